import { useRecordContext, useTranslate } from 'react-admin'
import type { ScriptRecord } from '../../api/resources/scripts.ts'

/** The script's name and version rather than "Script #<uuid>". */
export function ScriptTitle() {
  const script = useRecordContext<ScriptRecord>()
  const translate = useTranslate()
  return <>{script ? translate('helpline.scripts.title', { name: script.name, version: script.version }) : ''}</>
}
