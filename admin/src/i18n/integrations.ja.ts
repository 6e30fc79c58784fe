import type { Messages } from './en.ts'
import type { integrationsEn } from './integrations.en.ts'

/** Japanese messages for webhooks, merged into ja.ts; the same keys as integrations.en.ts. */
export const integrationsJa: Messages<typeof integrationsEn> = {
  webhooks: {
    create: '新しい Webhook エンドポイント',
    url_hint: 'http:// または https:// のみ。配信はリダイレクトをたどりません。',
    url_invalid: 'http:// または https:// の URL を指定してください',
    event_required: 'イベントを 1 つ以上選んでください',
    secret_title: 'Webhook エンドポイントを作成しました',
    secret_warning: '署名シークレットを今コピーし、受信側に保管してください。再表示はされません。受信側は各配信をこれで検証します（SDK の verifyWebhook）。',
    delete_title: 'この Webhook エンドポイントを削除しますか？',
    delete_content: '配信記録も削除され、保留中の配信は送信されません。',
    deliveries: '配信',
    no_deliveries: 'まだ配信はありません',
    event: 'イベント',
    status: '状態',
    attempts: '試行回数',
    last_attempt: '最終試行',
    next_attempt: '次回試行',
    replay: '再送',
    replayed: 'まもなく再送されます',
    statuses: {
      pending: '保留中',
      succeeded: '配信済み',
      failed: '断念',
    },
    events: {
      session_started: 'セッション開始',
      session_ended: 'セッション終了',
      consent_answered: '同意への回答',
      script_batch_finished: 'スクリプト実行の完了',
      agent_rebooted: 'コンピューターの再起動',
    },
  },
  resource: {
    name: 'Webhook',
    fields: {
      url: 'URL',
      description: '説明',
      eventTypes: 'イベント',
      enabled: '有効',
      createdAt: '作成日時',
      secret: '署名シークレット',
    },
  },
}
