import type { User } from './ports';

/** Who is asking, as the HTTP layer identified them. */
export interface Caller extends User {
  is_admin: boolean;
}
