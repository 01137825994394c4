import { fileURLToPath } from 'node:url';

/** The repository (or installed tree) root: packages/runtime/dist/src/util -> up five. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));

/** The documented configuration files and their schema. */
export const HYPERVISOR_CONFIGS_DIR = `${REPO_ROOT}hypervisor-configs`;
