import { useRef, useState, type DragEvent } from 'react'
import { useWatch } from 'react-hook-form'
import {
  Box,
  Button,
  Chip,
  FormHelperText,
  IconButton,
  LinearProgress,
  List,
  ListItem,
  ListItemIcon,
  ListItemText,
  Stack,
  Typography,
} from '@mui/material'
import DeleteOutlined from '@mui/icons-material/DeleteOutlined'
import InsertDriveFileOutlined from '@mui/icons-material/InsertDriveFileOutlined'
import Terminal from '@mui/icons-material/Terminal'
import { InputHelperText, useInput, useTranslate } from 'react-admin'
import type { FormFile } from '../../api/resources/scripts.ts'
import { formatBytes, shortHash } from './format.ts'
import { useScriptLimits } from './limits.ts'

const totalOf = (executable: FormFile | null | undefined, inputs: FormFile[] | undefined) =>
  (executable?.size ?? 0) + (inputs ?? []).reduce((sum, f) => sum + f.size, 0)

const fromFile = (file: File): FormFile => ({ name: file.name, size: file.size, file })
const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()
const keepAsIs = <T,>(value: T) => value

interface DropZoneProps {
  label: string
  multiple: boolean
  testId: string
  onFiles(files: File[]): void
}

/** Drop files here or browse for them; the hidden input is what a test fills. */
function DropZone({ label, multiple, testId, onFiles }: DropZoneProps) {
  const translate = useTranslate()
  const input = useRef<HTMLInputElement>(null)
  const [over, setOver] = useState(false)
  const drop = (event: DragEvent) => {
    event.preventDefault()
    setOver(false)
    const files = [...event.dataTransfer.files]
    if (files.length) onFiles(multiple ? files : files.slice(0, 1))
  }
  return (
    <Box
      onDragOver={(event) => {
        event.preventDefault()
        setOver(true)
      }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
      data-testid={`${testId}-drop`}
      sx={{
        border: 2,
        borderStyle: 'dashed',
        borderColor: over ? 'primary.main' : 'divider',
        bgcolor: over ? 'action.hover' : undefined,
        borderRadius: 1,
        p: 2,
        textAlign: 'center',
      }}
    >
      <Typography variant="body2" color="text.secondary" component="span" sx={{ mr: 1 }}>
        {translate(label)}
      </Typography>
      <Button size="small" variant="outlined" onClick={() => input.current?.click()}>
        {translate('helpline.scripts.browse')}
      </Button>
      <input
        ref={input}
        type="file"
        hidden
        multiple={multiple}
        data-testid={testId}
        onChange={(event) => {
          const files = [...(event.target.files ?? [])]
          // Choosing the same file again must fire a change: forget this choice.
          event.target.value = ''
          if (files.length) onFiles(files)
        }}
      />
    </Box>
  )
}

function FileRow({ file, icon, onRemove }: { file: FormFile; icon: 'executable' | 'input'; onRemove?: () => void }) {
  const translate = useTranslate()
  return (
    <ListItem
      dense
      disableGutters
      data-testid="script-file"
      secondaryAction={
        onRemove && (
          <IconButton edge="end" aria-label={translate('helpline.scripts.remove_file', { name: file.name })} onClick={onRemove}>
            <DeleteOutlined />
          </IconButton>
        )
      }
    >
      <ListItemIcon sx={{ minWidth: 36 }}>{icon === 'executable' ? <Terminal /> : <InsertDriveFileOutlined />}</ListItemIcon>
      <ListItemText
        primary={file.name}
        secondary={
          <>
            {formatBytes(file.size)}
            {file.sha256 ? ` · sha256 ${shortHash(file.sha256)}…` : ''}
          </>
        }
      />
      {file.file && <Chip size="small" color="primary" variant="outlined" label={translate('helpline.scripts.new_file')} sx={{ mr: 6 }} />}
    </ListItem>
  )
}

/** The one file that runs. Required; choosing another replaces it. */
export function ExecutableInput() {
  const translate = useTranslate()
  const { field, fieldState } = useInput<FormFile | null>({
    source: 'executable',
    format: keepAsIs,
    parse: keepAsIs,
    validate: (value: unknown) => (value ? undefined : 'helpline.scripts.executable_required'),
  })
  const file = field.value as FormFile | null
  return (
    <Box sx={{ width: '100%', mb: 2 }}>
      <Typography variant="subtitle2" gutterBottom>
        {translate('resources.scripts.fields.executable')}
      </Typography>
      {file && (
        <List dense disablePadding>
          <FileRow file={file} icon="executable" />
        </List>
      )}
      <DropZone
        label={file ? 'helpline.scripts.replace_executable' : 'helpline.scripts.drop_executable'}
        multiple={false}
        testId="executable-file"
        onFiles={([chosen]) => chosen && field.onChange(fromFile(chosen))}
      />
      <FormHelperText error={fieldState.invalid}>
        <InputHelperText error={fieldState.error?.message} helperText="helpline.scripts.executable_hint" />
      </FormHelperText>
    </Box>
  )
}

/** Files the executable needs. A file with the name of one already listed replaces it. */
export function InputFilesInput() {
  const translate = useTranslate()
  const limits = useScriptLimits()
  const { field, fieldState } = useInput<FormFile[]>({
    source: 'inputs',
    format: (value: unknown) => (Array.isArray(value) ? value : []),
    parse: keepAsIs,
    validate: (value: unknown, all: Record<string, unknown>) => {
      const inputs = (Array.isArray(value) ? value : []) as FormFile[]
      const executable = all.executable as FormFile | null | undefined
      const names = [executable?.name, ...inputs.map((f) => f.name)].filter((n): n is string => Boolean(n))
      if (new Set(names.map((n) => n.toLowerCase())).size !== names.length) return 'helpline.scripts.duplicate_name'
      if (inputs.length > limits.maxInputFiles) return { message: 'helpline.scripts.too_many_files', args: { max: limits.maxInputFiles } }
      if (totalOf(executable, inputs) > limits.maxBytes) return { message: 'helpline.scripts.over_budget', args: { limit: formatBytes(limits.maxBytes) } }
      return undefined
    },
  })
  const inputs = (field.value ?? []) as FormFile[]
  const add = (files: File[]) => {
    let next = [...inputs]
    for (const file of files) next = [...next.filter((f) => !sameName(f.name, file.name)), fromFile(file)]
    field.onChange(next)
  }
  return (
    <Box sx={{ width: '100%', mb: 2 }}>
      <Typography variant="subtitle2" gutterBottom>
        {translate('resources.scripts.fields.inputs')}
      </Typography>
      {inputs.length > 0 && (
        <List dense disablePadding data-testid="input-files">
          {inputs.map((file) => (
            <FileRow
              key={file.name}
              file={file}
              icon="input"
              onRemove={() => field.onChange(inputs.filter((f) => f !== file))}
            />
          ))}
        </List>
      )}
      <DropZone label="helpline.scripts.drop_inputs" multiple testId="input-files-input" onFiles={add} />
      <FormHelperText error={fieldState.invalid}>
        <InputHelperText error={fieldState.error?.message} helperText="helpline.scripts.inputs_hint" />
      </FormHelperText>
    </Box>
  )
}

/** How much of the size limit the chosen files use, as they are added. */
export function FileBudget() {
  const translate = useTranslate()
  const { maxBytes } = useScriptLimits()
  const [executable, inputs] = useWatch({ name: ['executable', 'inputs'] }) as [FormFile | null | undefined, FormFile[] | undefined]
  const total = totalOf(executable, inputs)
  const over = total > maxBytes
  return (
    <Stack spacing={0.5} sx={{ width: '100%', maxWidth: 560, mb: 2 }} data-testid="file-budget">
      <LinearProgress
        variant="determinate"
        value={Math.min(100, (total / maxBytes) * 100)}
        color={over ? 'error' : total / maxBytes > 0.9 ? 'warning' : 'primary'}
        aria-label={translate('helpline.scripts.budget_label')}
      />
      <Typography variant="caption" color={over ? 'error' : 'text.secondary'}>
        {translate(over ? 'helpline.scripts.budget_over' : 'helpline.scripts.budget', {
          used: formatBytes(total),
          limit: formatBytes(maxBytes),
          left: formatBytes(Math.abs(maxBytes - total)),
          bytes: total.toLocaleString(),
        })}
      </Typography>
    </Stack>
  )
}
