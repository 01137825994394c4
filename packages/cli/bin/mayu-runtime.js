#!/usr/bin/env node
import '../dist/src/oci-runtime/main.js';
