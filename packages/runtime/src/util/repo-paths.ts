import { fileURLToPath } from 'node:url';

/** Defined by scripts/bundle-host.mjs in an installed bundle: where its data files are. */
declare const __MAYU_INSTALL_ROOT__: string | undefined;

/**
 * The repository root, or for an installed bundle its install directory
 * (both hold hypervisor-configs/): packages/runtime/dist/src/util -> up five.
 */
export const REPO_ROOT = typeof __MAYU_INSTALL_ROOT__ === 'string' ? `${__MAYU_INSTALL_ROOT__}/` : fileURLToPath(new URL('../../../../../', import.meta.url));

/** The documented configuration files and their schema. */
export const HYPERVISOR_CONFIGS_DIR = `${REPO_ROOT}hypervisor-configs`;
