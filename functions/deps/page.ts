import { resolve } from 'node:path';
import type { Config } from '../config';
import { FIREBASE_CONNECT_SOURCES } from '../http/security-headers';
import { createPageHandler } from '../http/web-page';

/**
 * The page the api function serves beside /api when WEB_DIR names the built page (deployed
 * as `web/` beside the bundle). Its CSP lets it reach Firestore and Firebase Auth — Google's
 * endpoints, or the emulator locally. Built at load: a WEB_DIR without the page stops the instance.
 */
export function createPage(config: Config) {
  if (!config.webDir) return null;
  const connect = config.firestore.emulatorHost
    ? [config.firestore.emulatorHost, config.emulators.firebaseAuth]
        .filter((host): host is string => Boolean(host))
        .map((host) => `http://${host}`)
    : FIREBASE_CONNECT_SOURCES;
  return createPageHandler(resolve(config.webDir), connect);
}
