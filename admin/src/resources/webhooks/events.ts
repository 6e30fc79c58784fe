import { allWebhookEvents } from '../../api/resources/webhooks.ts'

/** The events as checkbox choices; the labels are translation keys. */
export const eventChoices = allWebhookEvents.map((id) => ({ id, name: `helpline.webhooks.events.${id.replace('.', '_')}` }))
