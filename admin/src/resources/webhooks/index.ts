import Webhook from '@mui/icons-material/Webhook'
import { WebhookCreate } from './WebhookCreate.tsx'
import { WebhookEdit } from './WebhookEdit.tsx'
import { WebhookList } from './WebhookList.tsx'
import { WebhookShow } from './WebhookShow.tsx'

/** Site admins: webhook endpoints for integrators, their deliveries and replays. */
export default {
  list: WebhookList,
  create: WebhookCreate,
  edit: WebhookEdit,
  show: WebhookShow,
  icon: Webhook,
  recordRepresentation: 'url',
}
