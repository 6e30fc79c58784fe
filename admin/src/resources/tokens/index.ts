import Key from '@mui/icons-material/Key'
import { lazyPage } from '../../lazy.ts'

const TokenList = lazyPage(() => import('./TokenList.tsx'), 'TokenList')
const TokenCreate = lazyPage(() => import('./TokenCreate.tsx'), 'TokenCreate')

/** The signed-in user's own API tokens, for the SDK and other integrations. No edit: revoke and create anew. */
export default {
  list: TokenList,
  create: TokenCreate,
  edit: undefined,
  icon: Key,
  recordRepresentation: 'name',
}
