import type { consoleEn } from './console.en.ts'

/** console.en.ts in Japanese: the same keys and placeholders. */
export const consoleJa: typeof consoleEn = {
  workspace: {
    menu: 'ワークスペース',
    title: 'ワークスペース',
    sessions: '担当中のセッション',
    empty_title: '進行中のセッションはありません',
    empty_hint: '開いたセッションは開始するとここにタブとして表示され、複数のお客様に同時に対応できます。',
    unread: '未読メッセージ %{smart_count} 件',
    consent_pending: '同意待ち',
    running: 'スクリプト実行中',
    select: '%{name} をスクリプト実行の対象にする',
    run_selected: '%{smart_count} 件のセッションでスクリプトを実行',
    run_current: 'スクリプトを実行',
    open_page: 'ページとして開く',
    shortcuts: 'Alt+↑/↓ または Alt+1…9: セッションを切り替え',
    dropped_ended: '%{name} さんのセッションは終了したため、タブを閉じました。',
    dropped_unknown: 'リンクにあるセッションは、担当中の進行中セッションではありません（終了済みまたは他の担当者のもの）。開きませんでした。',
    notify: 'このタブが隠れているときに通知する',
    notify_denied: 'ブラウザーがこのサイトの通知をブロックしています。サイトの設定で許可してください。',
    notify_unsupported: 'このブラウザーは通知を表示できません。',
    news: {
      message: '%{name}: %{body}',
      consent_approved: '%{name} さんが許可しました: %{kind}',
      consent_denied: '%{name} さんが拒否しました: %{kind}',
      consent_expired: '%{name} さんから回答がありませんでした: %{kind}',
      agent_left: '%{name} さんの接続が切れました',
      ended: '%{name} さんのセッションが終了しました',
    },
  },
  ui: {
    all_categories: 'すべてのカテゴリー',
    sort_by: '並び順',
    sorts: { name: '名前順', updatedAt: '更新が新しい順', categoryName: 'カテゴリー順' },
    open_output: '出力を開く',
    earlier_lines: 'それより前の %{smart_count} 行は表示していません',
    reload_data: 'このページのデータを再読み込み',
    dismiss: '閉じる',
  },
}
