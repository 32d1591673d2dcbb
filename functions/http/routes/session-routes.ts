/** The page's credentials for reading Firestore as the signed-in user. */
import type { SessionTokens } from '../../core/shared/session';
import { defineRoute, NoQuery, type Route, requireCaller } from '../router';

export function sessionRoutes(deps: { sessionTokens: SessionTokens }): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/api/session/token',
      summary:
        'Credentials for the web page to read Firestore as the signed-in user (a Firebase custom token; locally, an emulator mock token)',
      tags: ['session'],
      auth: true,
      query: NoQuery,
      responses: [{ status: 200, description: 'the token and the claims the Firestore rules check' }],
      handler: async (ctx) => ({
        body: await deps.sessionTokens.mint(requireCaller(ctx)),
        headers: { 'cache-control': 'no-store' },
      }),
    }),
  ];
}
