import { statSync } from 'node:fs';
import { pino } from 'pino';
import type { RuntimeConfig } from '../config/runtime-config.js';
import { TemplateStore, type Template } from './template-store.js';

export interface TemplateInfo {
  key: string;
  createdAt: string;
  vcpus: number;
  memoryMib: number;
  nics: number;
  /** Guest RAM pages the template's file holds (what it costs the tmpfs). */
  residentMib: number;
  /** Its guest image is gone or changed: no sandbox will use it again. */
  stale: boolean;
}

/** Whether each image file a template names still is as it was (path, size, mtime). */
function imageChanged(t: Template): boolean {
  return t.manifest.image.some((entry) => {
    const [path = '', size, mtime] = entry.split(' ');
    try {
      const st = statSync(path);
      return String(st.size) !== size || String(Math.round(st.mtimeMs)) !== mtime;
    } catch {
      return true;
    }
  });
}

/** The templates under config.factory.templateDir, described (mayu template ls, mayu check). */
export function listTemplates(config: RuntimeConfig): TemplateInfo[] {
  const store = new TemplateStore(config.factory.templateDir, pino({ level: 'silent' }));
  return store.list().map((t) => ({
    key: t.manifest.key,
    createdAt: t.manifest.createdAt,
    vcpus: t.manifest.vcpus,
    memoryMib: t.manifest.memoryMib,
    nics: t.manifest.nicMacs.length,
    residentMib: Math.round((statSync(t.memoryFile).blocks * 512) / 1048576),
    stale: imageChanged(t),
  }));
}
