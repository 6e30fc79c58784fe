import Webhook from '@mui/icons-material/Webhook'
import { lazyPage } from '../../lazy.ts'

const WebhookList = lazyPage(() => import('./WebhookList.tsx'), 'WebhookList')
const WebhookCreate = lazyPage(() => import('./WebhookCreate.tsx'), 'WebhookCreate')
const WebhookEdit = lazyPage(() => import('./WebhookEdit.tsx'), 'WebhookEdit')
const WebhookShow = lazyPage(() => import('./WebhookShow.tsx'), 'WebhookShow')

/** Site admins: webhook endpoints for integrators, their deliveries and replays. */
export default {
  list: WebhookList,
  create: WebhookCreate,
  edit: WebhookEdit,
  show: WebhookShow,
  icon: Webhook,
  recordRepresentation: 'url',
}
