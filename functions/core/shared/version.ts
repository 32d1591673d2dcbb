/** The platform's version: the API's /health answers it, `arc --version` prints it (package.json's). */
export const VERSION = '0.1.0';
