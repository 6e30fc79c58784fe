import Key from '@mui/icons-material/Key'
import { TokenList } from './TokenList.tsx'
import { TokenCreate } from './TokenCreate.tsx'

/** The signed-in user's own API tokens, for the SDK and other integrations. No edit: revoke and create anew. */
export default {
  list: TokenList,
  create: TokenCreate,
  edit: undefined,
  icon: Key,
  recordRepresentation: 'name',
}
