import { useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import {
  Alert,
  Box,
  Button,
  Chip,
  Dialog,
  DialogActions,
  DialogContent,
  DialogTitle,
  Paper,
  Stack,
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableRow,
  Typography,
} from '@mui/material'
import Download from '@mui/icons-material/Download'
import Visibility from '@mui/icons-material/Visibility'
import {
  BooleanField,
  DateField,
  EditButton,
  Labeled,
  ListButton,
  NumberField,
  Show,
  SimpleShowLayout,
  TextField,
  TopToolbar,
  useDataProvider,
  useNotify,
  useRecordContext,
  useTranslate,
} from 'react-admin'
import type { AppDataProvider } from '../../api/index.ts'
import type { Script, ScriptRecord, ScriptVersion } from '../../api/resources/scripts.ts'
import { DeleteScriptButton } from './ScriptEdit.tsx'
import { ScriptTitle } from './ScriptTitle.tsx'
import { formatBytes } from './format.ts'
import { TransferOwnerButton, UnpublishScriptButton } from './OversightActions.tsx'
import { useScriptRights } from './owner.ts'

type StoredFile = Script['files'][number]
interface Selected {
  version: number
  file: StoredFile
}

/** Larger files are not previewed: the page stays responsive, the download is one click away. */
const PREVIEW_MAX_BYTES = 256 * 1024
const utf8 = new TextDecoder('utf-8', { fatal: true })
const roleLabel: Record<StoredFile['role'], string> = {
  executable: 'helpline.scripts.role_executable',
  input: 'helpline.scripts.role_input',
}

/** The owner: Edit and Delete. A site admin on someone else's script: Unpublish and Transfer owner. */
function ShowActions() {
  const script = useRecordContext<ScriptRecord>()
  const { owner, oversee } = useScriptRights(script)
  return (
    <TopToolbar>
      <ListButton />
      {owner && <EditButton />}
      {owner && <DeleteScriptButton />}
      {oversee && <UnpublishScriptButton />}
      {oversee && <TransferOwnerButton />}
    </TopToolbar>
  )
}

function useFileActions(scriptId: string) {
  const dataProvider = useDataProvider<AppDataProvider>()
  const notify = useNotify()
  return async (version: number, name: string) => {
    try {
      const blob = await dataProvider.scriptFile(scriptId, version, name)
      const url = URL.createObjectURL(blob)
      const link = document.createElement('a')
      link.href = url
      link.download = name
      link.click()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    } catch (error) {
      notify((error as Error).message || 'ra.notification.http_error', { type: 'error' })
    }
  }
}

function FilesTable({ scriptId, version, files, onPreview }: { scriptId: string; version: number; files: StoredFile[]; onPreview(s: Selected): void }) {
  const translate = useTranslate()
  const download = useFileActions(scriptId)
  return (
    <Table size="small" data-testid={`files-v${version}`}>
      <TableHead>
        <TableRow>
          <TableCell>{translate('helpline.scripts.file_name')}</TableCell>
          <TableCell>{translate('helpline.scripts.file_role')}</TableCell>
          <TableCell align="right">{translate('resources.scripts.fields.size')}</TableCell>
          <TableCell>sha256</TableCell>
          <TableCell />
        </TableRow>
      </TableHead>
      <TableBody>
        {files.map((file) => (
          <TableRow key={file.name}>
            <TableCell sx={{ wordBreak: 'break-all' }}>{file.name}</TableCell>
            <TableCell>
              <Chip size="small" variant="outlined" label={translate(roleLabel[file.role])} />
            </TableCell>
            <TableCell align="right" sx={{ whiteSpace: 'nowrap' }}>
              {formatBytes(file.size)}
            </TableCell>
            <TableCell sx={{ fontFamily: 'monospace', fontSize: '0.75rem', wordBreak: 'break-all' }}>{file.sha256}</TableCell>
            <TableCell sx={{ whiteSpace: 'nowrap' }}>
              <Button size="small" startIcon={<Visibility />} onClick={() => onPreview({ version, file })}>
                {translate('helpline.scripts.preview')}
              </Button>
              <Button size="small" startIcon={<Download />} onClick={() => void download(version, file.name)}>
                {translate('helpline.scripts.download')}
              </Button>
            </TableCell>
          </TableRow>
        ))}
      </TableBody>
    </Table>
  )
}

/** A read-only view of a text file; binary files and very large ones are offered for download. */
function FilePreview({ scriptId, selected, onClose }: { scriptId: string; selected: Selected; onClose(): void }) {
  const translate = useTranslate()
  const dataProvider = useDataProvider<AppDataProvider>()
  const { version, file } = selected
  const tooBig = file.size > PREVIEW_MAX_BYTES
  const { data, error, isPending } = useQuery({
    queryKey: ['scriptFile', scriptId, version, file.name],
    enabled: !tooBig,
    queryFn: async () => {
      const bytes = new Uint8Array(await (await dataProvider.scriptFile(scriptId, version, file.name)).arrayBuffer())
      try {
        return bytes.includes(0) ? null : utf8.decode(bytes)
      } catch {
        return null
      }
    },
  })
  let body
  if (tooBig) body = <Alert severity="info">{translate('helpline.scripts.preview_too_big', { size: formatBytes(file.size) })}</Alert>
  else if (error) body = <Alert severity="error">{(error as Error).message}</Alert>
  else if (isPending) body = <Typography color="text.secondary">…</Typography>
  else if (data === null) body = <Alert severity="info">{translate('helpline.scripts.preview_binary')}</Alert>
  else
    body = (
      <Box
        component="pre"
        data-testid="file-preview"
        sx={{ m: 0, p: 2, maxHeight: 420, overflow: 'auto', bgcolor: 'action.hover', borderRadius: 1, fontSize: '0.8rem' }}
      >
        {data}
      </Box>
    )
  return (
    <Dialog open onClose={onClose} maxWidth="md" fullWidth>
      <DialogTitle sx={{ wordBreak: 'break-all' }}>{translate('helpline.scripts.preview_title', { name: file.name, version })}</DialogTitle>
      <DialogContent>{body}</DialogContent>
      <DialogActions>
        <Button onClick={onClose}>{translate('ra.action.close')}</Button>
      </DialogActions>
    </Dialog>
  )
}

function VersionHistory({ scriptId, onPreview }: { scriptId: string; onPreview(s: Selected): void }) {
  const translate = useTranslate()
  const dataProvider = useDataProvider<AppDataProvider>()
  const script = useRecordContext<ScriptRecord>()
  const { data: versions } = useQuery<ScriptVersion[]>({
    // The current version is part of the key: a save that made a new one refetches the list.
    queryKey: ['scriptVersions', scriptId, script?.version],
    queryFn: () => dataProvider.scriptVersions(scriptId),
  })
  return (
    <Stack spacing={2} data-testid="version-history">
      {(versions ?? []).map((v) => (
        <Paper key={v.id} variant="outlined" sx={{ p: 2 }}>
          <Typography variant="subtitle2">
            {translate('helpline.scripts.version_line', {
              number: v.number,
              when: new Date(v.createdAt).toLocaleString(),
              who: v.createdByName,
              size: formatBytes(v.size),
            })}
          </Typography>
          <Typography variant="caption" sx={{ fontFamily: 'monospace', wordBreak: 'break-all' }} color="text.secondary">
            {translate('helpline.scripts.digest')}: {v.digest}
          </Typography>
          <FilesTable scriptId={scriptId} version={v.number} files={v.files} onPreview={onPreview} />
        </Paper>
      ))}
    </Stack>
  )
}

function ScriptDetails() {
  const script = useRecordContext<ScriptRecord>()
  const translate = useTranslate()
  const [selected, setSelected] = useState<Selected>()
  if (!script) return null
  return (
    <Box sx={{ p: 2 }}>
      <SimpleShowLayout sx={{ p: 0 }}>
        <TextField source="name" />
        <Stack direction="row" spacing={4} sx={{ flexWrap: 'wrap' }} useFlexGap>
          <Labeled source="categoryName">
            <TextField source="categoryName" />
          </Labeled>
          <Labeled source="ownerName">
            <TextField source="ownerName" />
          </Labeled>
          <Labeled source="published">
            <BooleanField source="published" />
          </Labeled>
          <Labeled source="defaultTimeoutSeconds">
            <NumberField source="defaultTimeoutSeconds" />
          </Labeled>
          <Labeled source="version">
            <NumberField source="version" />
          </Labeled>
          <Labeled label="resources.scripts.fields.size">
            <Typography variant="body2">{formatBytes(script.size)}</Typography>
          </Labeled>
          <Labeled source="updatedAt">
            <DateField source="updatedAt" showTime />
          </Labeled>
        </Stack>
        <TextField source="description" emptyText="—" sx={{ whiteSpace: 'pre-wrap' }} />
        <TextField source="digest" sx={{ fontFamily: 'monospace', wordBreak: 'break-all' }} />
      </SimpleShowLayout>
      <Typography variant="h6" sx={{ mt: 3, mb: 1 }}>
        {translate('helpline.scripts.current_files')}
      </Typography>
      <FilesTable scriptId={String(script.id)} version={script.version} files={script.files} onPreview={setSelected} />
      {selected && <FilePreview scriptId={String(script.id)} selected={selected} onClose={() => setSelected(undefined)} />}
      <Typography variant="h6" sx={{ mt: 3, mb: 1 }}>
        {translate('helpline.scripts.history')}
      </Typography>
      <VersionHistory scriptId={String(script.id)} onPreview={setSelected} />
    </Box>
  )
}

export function ScriptShow() {
  return (
    <Show title={<ScriptTitle />} actions={<ShowActions />}>
      <ScriptDetails />
    </Show>
  )
}
