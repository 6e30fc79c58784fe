import { useEffect, useMemo, useRef, useState } from 'react'
import { keepPreviousData, useMutation } from '@tanstack/react-query'
import {
  Alert,
  Box,
  Button,
  Card,
  CardContent,
  CardHeader,
  Checkbox,
  Chip,
  CircularProgress,
  FormControlLabel,
  FormHelperText,
  IconButton,
  InputAdornment,
  List,
  ListItem,
  ListItemText,
  Paper,
  MenuItem,
  Stack,
  TextField,
  Typography,
} from '@mui/material'
import Add from '@mui/icons-material/Add'
import ArrowDownward from '@mui/icons-material/ArrowDownward'
import ArrowUpward from '@mui/icons-material/ArrowUpward'
import DeleteOutlined from '@mui/icons-material/DeleteOutlined'
import PlayArrow from '@mui/icons-material/PlayArrow'
import Search from '@mui/icons-material/Search'
import { Title, useDataProvider, useGetList, useNotify, useTranslate } from 'react-admin'
import { useLocation, useNavigate, useSearchParams } from 'react-router-dom'
import type { AppDataProvider } from '../../api/index.ts'
import { MAX_ARGS_BYTES, MAX_BATCH_SCRIPTS, MAX_BATCH_SESSIONS, type ScriptBatch, type ScriptBatchCreate } from '../../api/resources/script-batches.ts'
import type { ScriptRecord } from '../../api/resources/scripts.ts'
import type { Session } from '../../api/resources/sessions.ts'
import { AgentStatusChip } from '../sessions/chips.tsx'
import { formatNumber } from '../sessions/format.ts'
import { argsBytes, moveDown, moveUp, parseTimeout, placeErrors, removeAt, toBatchCreate, type PlacedErrors, type PlanItem } from './plan.ts'

const SEARCH_DELAY_MS = 250
/** For screen readers only (in `sx`, a plain 1 would mean 100%). */
const visuallyHidden = { position: 'absolute', width: '1px', height: '1px', overflow: 'hidden', clip: 'rect(0 0 0 0)', whiteSpace: 'nowrap' } as const
const RESULTS = 20

/** The picker's orders: name A–Z, newest change first, category. */
const pickerSorts = {
  name: { field: 'name', order: 'ASC' },
  updatedAt: { field: 'updatedAt', order: 'DESC' },
  categoryName: { field: 'categoryName', order: 'ASC' },
} as const
type PickerSort = keyof typeof pickerSorts

/** Category and order for the picker: two small selects under the search. */
function PickerFilters({ category, onCategory, sort, onSort }: { category: string; onCategory: (id: string) => void; sort: PickerSort; onSort: (s: PickerSort) => void }) {
  const translate = useTranslate()
  const { data: categories } = useGetList<{ id: string; name: string }>('categories', { pagination: { page: 1, perPage: 100 }, sort: { field: 'name', order: 'ASC' } })
  return (
    <Stack direction="row" spacing={1} sx={{ mt: 1 }}>
      <TextField
        select
        size="small"
        fullWidth
        label={translate('resources.scripts.fields.categoryName', { _: 'Category' })}
        value={category}
        onChange={(e) => onCategory(e.target.value)}
        slotProps={{ htmlInput: { 'data-testid': 'picker-category' } }}
      >
        <MenuItem value="">{translate('ui.all_categories')}</MenuItem>
        {(categories ?? []).map((c) => (
          <MenuItem key={c.id} value={c.id}>
            {c.name}
          </MenuItem>
        ))}
      </TextField>
      <TextField
        select
        size="small"
        fullWidth
        label={translate('ui.sort_by')}
        value={sort}
        onChange={(e) => onSort(e.target.value as PickerSort)}
        slotProps={{ htmlInput: { 'data-testid': 'picker-sort' } }}
      >
        {(Object.keys(pickerSorts) as PickerSort[]).map((key) => (
          <MenuItem key={key} value={key}>
            {translate(`ui.sorts.${key}`)}
          </MenuItem>
        ))}
      </TextField>
    </Stack>
  )
}

/** The library, searched as one types and narrowed by category; each script can be added (again) to the plan. */
function ScriptPicker({ onAdd, full }: { onAdd: (script: ScriptRecord) => void; full: boolean }) {
  const translate = useTranslate()
  const [text, setText] = useState('')
  const [q, setQ] = useState('')
  const [category, setCategory] = useState('')
  const [sort, setSort] = useState<PickerSort>('name')
  useEffect(() => {
    const timer = setTimeout(() => setQ(text.trim()), SEARCH_DELAY_MS)
    return () => clearTimeout(timer)
  }, [text])
  const { data, total, isPending, isFetching, error } = useGetList<ScriptRecord>(
    'scripts',
    { pagination: { page: 1, perPage: RESULTS }, sort: pickerSorts[sort], filter: { ...(q ? { q } : {}), ...(category ? { categoryId: category } : {}) } },
    { placeholderData: keepPreviousData },
  )
  return (
    <Card data-testid="script-picker">
      <CardHeader title={translate('helpline.runs.library')} slotProps={{ title: { variant: 'h6', component: 'h2' } }} sx={{ pb: 0 }} />
      <CardContent>
        <TextField
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder={translate('helpline.runs.search')}
          size="small"
          fullWidth
          slotProps={{
            htmlInput: { 'aria-label': translate('helpline.runs.search'), 'data-testid': 'script-search' },
            input: {
              startAdornment: (
                <InputAdornment position="start">
                  <Search fontSize="small" />
                </InputAdornment>
              ),
              endAdornment: isFetching ? <CircularProgress size={16} /> : undefined,
            },
          }}
        />
        <PickerFilters category={category} onCategory={setCategory} sort={sort} onSort={setSort} />
        {error ? (
          <Alert severity="error" sx={{ mt: 1 }}>
            {translate(error.message)}
          </Alert>
        ) : isPending ? null : data && data.length > 0 ? (
          <List dense sx={{ maxHeight: 420, overflowY: 'auto' }} aria-label={translate('helpline.runs.library')}>
            {data.map((script) => (
              <ListItem
                key={script.id}
                divider
                data-testid="library-script"
                data-script-name={script.name}
                secondaryAction={
                  <IconButton
                    edge="end"
                    color="primary"
                    disabled={full}
                    onClick={() => onAdd(script)}
                    aria-label={translate('helpline.runs.add_named', { name: script.name })}
                    title={translate('helpline.runs.add')}
                  >
                    <Add />
                  </IconButton>
                }
              >
                <ListItemText
                  primary={
                    <>
                      {script.name}
                      {!script.published && <Chip size="small" variant="outlined" label={translate('helpline.scripts.unpublished')} sx={{ ml: 1 }} />}
                    </>
                  }
                  secondary={[
                    script.categoryName,
                    translate('helpline.runs.version', { version: script.version }),
                    translate('helpline.runs.timeout_short', { seconds: script.defaultTimeoutSeconds }),
                    script.description,
                  ]
                    .filter(Boolean)
                    .join(' · ')}
                  slotProps={{ secondary: { sx: { overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' } } }}
                />
              </ListItem>
            ))}
          </List>
        ) : (
          <Typography variant="body2" color="text.secondary" sx={{ mt: 1.5 }}>
            {translate(q ? 'helpline.runs.no_results' : 'helpline.runs.library_empty')}
          </Typography>
        )}
        {data && total !== undefined && total > data.length && (
          <Typography variant="caption" color="text.secondary">
            {translate('helpline.runs.more_results', { shown: data.length, total })}
          </Typography>
        )}
      </CardContent>
    </Card>
  )
}

function PlanEntry({
  item,
  index,
  count,
  error,
  onChange,
  onMove,
}: {
  item: PlanItem
  index: number
  count: number
  error: string | undefined
  onChange: (item: PlanItem) => void
  onMove: (how: 'up' | 'down' | 'remove') => void
}) {
  const translate = useTranslate()
  const timeout = parseTimeout(item.timeoutText)
  const badTimeout = timeout !== undefined && !Number.isFinite(timeout)
  return (
    <Paper variant="outlined" sx={{ p: 1.5 }} data-testid="plan-item" data-script-name={item.name} component="li">
      <Stack direction="row" spacing={1} sx={{ alignItems: 'center' }}>
        <Typography variant="subtitle2" component="h3" sx={{ flex: 1, minWidth: 0 }} data-testid="plan-item-title">
          {`${index + 1}. ${item.name} `}
          <Typography component="span" variant="caption" color="text.secondary" sx={{ ml: 0.5 }}>
            {translate('helpline.runs.version', { version: item.version })}
          </Typography>
        </Typography>
        <IconButton size="small" disabled={index === 0} onClick={() => onMove('up')} aria-label={translate('helpline.runs.move_up')} title={translate('helpline.runs.move_up')}>
          <ArrowUpward fontSize="small" />
        </IconButton>
        <IconButton
          size="small"
          disabled={index === count - 1}
          onClick={() => onMove('down')}
          aria-label={translate('helpline.runs.move_down')}
          title={translate('helpline.runs.move_down')}
        >
          <ArrowDownward fontSize="small" />
        </IconButton>
        <IconButton size="small" onClick={() => onMove('remove')} aria-label={translate('helpline.runs.remove')} title={translate('helpline.runs.remove')}>
          <DeleteOutlined fontSize="small" />
        </IconButton>
      </Stack>
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2} sx={{ mt: 1.5 }}>
        <TextField
          label={translate('helpline.runs.arguments')}
          value={item.argsText}
          onChange={(e) => onChange({ ...item, argsText: e.target.value })}
          multiline
          minRows={1}
          maxRows={6}
          size="small"
          helperText={translate('helpline.runs.arguments_hint')}
          sx={{ flex: 1 }}
          slotProps={{ htmlInput: { 'data-testid': 'plan-args', spellCheck: false, style: { fontFamily: 'monospace' } } }}
        />
        <TextField
          label={translate('helpline.runs.timeout')}
          value={item.timeoutText}
          onChange={(e) => onChange({ ...item, timeoutText: e.target.value })}
          placeholder={String(item.defaultTimeoutSeconds)}
          size="small"
          error={badTimeout}
          helperText={translate(badTimeout ? 'helpline.runs.timeout_invalid' : 'helpline.runs.timeout_hint', { seconds: item.defaultTimeoutSeconds })}
          sx={{ width: { sm: 200 } }}
          slotProps={{ htmlInput: { inputMode: 'numeric', 'data-testid': 'plan-timeout' } }}
        />
      </Stack>
      {error && (
        <FormHelperText error role="alert">
          {translate(error)}
        </FormHelperText>
      )}
    </Paper>
  )
}

function SessionChoices({
  sessions,
  ticked,
  onTick,
  errors,
  listError,
  loading,
}: {
  sessions: Session[]
  ticked: ReadonlySet<string>
  onTick: (ids: string[], on: boolean) => void
  errors: PlacedErrors['sessions']
  listError: string | undefined
  loading: boolean
}) {
  const translate = useTranslate()
  const chosen = sessions.filter((s) => ticked.has(s.id)).length
  return (
    <Card data-testid="session-choices">
      <CardHeader
        title={translate('helpline.runs.sessions')}
        subheader={translate('helpline.runs.sessions_hint')}
        slotProps={{ title: { variant: 'h6', component: 'h2' }, subheader: { variant: 'body2' } }}
        sx={{ pb: 0 }}
      />
      <CardContent>
        {loading ? (
          <CircularProgress size={20} />
        ) : sessions.length === 0 ? (
          <Typography variant="body2" color="text.secondary" data-testid="no-active-sessions">
            {translate('helpline.runs.no_sessions')}
          </Typography>
        ) : (
          <Box component="fieldset" sx={{ border: 0, m: 0, p: 0 }}>
            <Box component="legend" sx={visuallyHidden}>
              {translate('helpline.runs.sessions')}
            </Box>
            {sessions.length > 1 && (
              <FormControlLabel
                label={translate('helpline.runs.select_all')}
                control={
                  <Checkbox
                    checked={chosen === sessions.length}
                    indeterminate={chosen > 0 && chosen < sessions.length}
                    onChange={(e) => onTick(sessions.map((s) => s.id), e.target.checked)}
                  />
                }
              />
            )}
            <Stack spacing={0.5}>
              {sessions.map((s) => (
                <Box key={s.id} data-testid="session-choice" data-session-id={s.id}>
                  <FormControlLabel
                    control={<Checkbox checked={ticked.has(s.id)} onChange={(e) => onTick([s.id], e.target.checked)} />}
                    label={
                      <Stack direction="row" spacing={1} sx={{ alignItems: 'center', flexWrap: 'wrap' }}>
                        <span>{s.customerName}</span>
                        <Box component="span" sx={{ fontFamily: 'monospace' }}>
                          {formatNumber(s.number)}
                        </Box>
                        <AgentStatusChip agent={s.agent} sessionStatus={s.status} />
                      </Stack>
                    }
                  />
                  {errors[s.id] && (
                    <FormHelperText error role="alert" sx={{ ml: 4, mt: -0.5 }}>
                      {translate(errors[s.id]!)}
                    </FormHelperText>
                  )}
                </Box>
              ))}
            </Stack>
          </Box>
        )}
        {listError && (
          <FormHelperText error role="alert">
            {translate(listError)}
          </FormHelperText>
        )}
      </CardContent>
    </Card>
  )
}

interface Problems {
  message: string
  placed: PlacedErrors
}

let nextKey = 0

/**
 * Run scripts: pick scripts from the library (searchable), put them in order, give each its
 * arguments and timeout, tick the sessions, run. Each session's customer approves on their
 * computer; the batch page that follows shows how every run goes.
 */
function RunScripts({ requested }: { requested: readonly string[] }) {
  const translate = useTranslate()
  const notify = useNotify()
  const navigate = useNavigate()
  const dataProvider = useDataProvider<AppDataProvider>()
  const [items, setItems] = useState<PlanItem[]>([])
  const [ticked, setTicked] = useState<ReadonlySet<string>>(() => new Set(requested))
  const [stopOnFailure, setStopOnFailure] = useState(false)
  const [problems, setProblems] = useState<Problems>()

  const {
    data: sessions = [],
    isPending: sessionsLoading,
    refetch: refetchSessions,
  } = useGetList<Session>(
    'sessions',
    // Only the user's own: a batch runs on one's own sessions, admins included.
    { pagination: { page: 1, perPage: MAX_BATCH_SESSIONS }, sort: { field: 'createdAt', order: 'DESC' }, filter: { status: 'active', mine: true } },
    { refetchInterval: 10_000 },
  )
  const chosen = sessions.filter((s) => ticked.has(s.id)).map((s) => s.id)
  const missing = sessionsLoading ? 0 : requested.filter((id) => !sessions.some((s) => s.id === id)).length

  const bytes = argsBytes(items)
  const badTimeouts = items.some((i) => {
    const t = parseTimeout(i.timeoutText)
    return t !== undefined && !Number.isFinite(t)
  })
  const full = items.length >= MAX_BATCH_SCRIPTS

  // A Run whose outcome is unknown (no answer: a network error, a timeout, a 5xx) may have
  // created its batch. Run pressed again resends exactly that request with its Idempotency-Key, and
  // the server answers the batch it created instead of running the scripts twice — even when the
  // session list has changed meanwhile. Any edit of the plan, or a definite answer, forgets it.
  const attempt = useRef<{ body: ScriptBatchCreate; key: string }>(undefined)
  useEffect(() => {
    attempt.current = undefined
  }, [items, ticked, stopOnFailure])
  const { mutate, isPending } = useMutation<ScriptBatch, Error & { status?: number; body?: { errors?: Record<string, string> } }, { items: PlanItem[]; sessionIds: string[] }>({
    mutationFn: ({ items, sessionIds }) => {
      attempt.current ??= { body: toBatchCreate(items, sessionIds, stopOnFailure), key: randomKey() }
      return dataProvider.createScriptBatch(attempt.current.body, attempt.current.key)
    },
    onSuccess: (batch) => {
      attempt.current = undefined
      // After a 401 react-admin's proxy resolves with `{ data: {} }` and signs out: nothing to open.
      if (!batch?.id) return
      notify('helpline.runs.started', { type: 'info' })
      navigate(`/script-batches/${batch.id}/show`)
    },
    onError: (error, sent) => {
      // Refused (4xx): nothing was created, the next Run is a new request.
      if (error.status !== undefined && error.status > 0 && error.status < 500) attempt.current = undefined
      setProblems({ message: error.message || 'ra.notification.http_error', placed: placeErrors(error.body?.errors ?? {}, sent.items, sent.sessionIds) })
      // A session may have ended or lost its customer since the list was read.
      void refetchSessions()
    },
  })

  const add = (script: ScriptRecord) => {
    setItems((list) => [
      ...list,
      {
        key: `plan-${nextKey++}`,
        scriptId: script.id,
        name: script.name,
        version: script.version,
        defaultTimeoutSeconds: script.defaultTimeoutSeconds,
        argsText: '',
        timeoutText: '',
      },
    ])
  }
  const move = (index: number, how: 'up' | 'down' | 'remove') =>
    setItems((list) => (how === 'up' ? moveUp(list, index) : how === 'down' ? moveDown(list, index) : removeAt(list, index)))
  const tick = (ids: string[], on: boolean) =>
    setTicked((current) => {
      const next = new Set(current)
      for (const id of ids) {
        if (on) next.add(id)
        else next.delete(id)
      }
      return next
    })

  const blocked = items.length === 0 || chosen.length === 0 || bytes > MAX_ARGS_BYTES || badTimeouts || items.length > MAX_BATCH_SCRIPTS
  const run = () => {
    if (blocked || isPending) return
    setProblems(undefined)
    mutate({ items, sessionIds: chosen })
  }
  const placed = problems?.placed

  return (
    <Box sx={{ mt: 1, mb: 2 }}>
      <Title title="helpline.runs.title" />
      <Box
        sx={{
          display: 'grid',
          gridTemplateColumns: { xs: 'minmax(0, 1fr)', lg: 'minmax(0, 5fr) minmax(0, 7fr)' },
          gap: 2,
          alignItems: 'start',
        }}
      >
        <ScriptPicker onAdd={add} full={full} />
        <Card data-testid="plan">
          <CardHeader title={translate('helpline.runs.plan')} slotProps={{ title: { variant: 'h6', component: 'h2' } }} sx={{ pb: 0 }} />
          <CardContent>
            {items.length === 0 ? (
              <Typography variant="body2" color="text.secondary" data-testid="plan-empty">
                {translate('helpline.runs.plan_empty')}
              </Typography>
            ) : (
              <Stack component="ol" spacing={1.5} sx={{ listStyle: 'none', p: 0, m: 0 }} aria-label={translate('helpline.runs.plan')}>
                {items.map((item, index) => (
                  <PlanEntry
                    key={item.key}
                    item={item}
                    index={index}
                    count={items.length}
                    error={placed?.scripts[item.key]}
                    onChange={(changed) => setItems((list) => list.map((i) => (i.key === changed.key ? changed : i)))}
                    onMove={(how) => move(index, how)}
                  />
                ))}
              </Stack>
            )}
            {full && (
              <FormHelperText sx={{ mt: 1 }}>{translate('helpline.runs.too_many_scripts', { max: MAX_BATCH_SCRIPTS })}</FormHelperText>
            )}
            {bytes > MAX_ARGS_BYTES && (
              <FormHelperText error sx={{ mt: 1 }}>
                {translate('helpline.runs.args_too_long', { bytes, max: MAX_ARGS_BYTES })}
              </FormHelperText>
            )}
            {placed?.scriptList && (
              <FormHelperText error role="alert" sx={{ mt: 1 }}>
                {translate(placed.scriptList)}
              </FormHelperText>
            )}
            <FormControlLabel
              sx={{ mt: 1 }}
              control={<Checkbox checked={stopOnFailure} onChange={(e) => setStopOnFailure(e.target.checked)} />}
              label={
                <Box>
                  <Typography variant="body2">{translate('helpline.runs.stop_on_failure')}</Typography>
                  <Typography variant="caption" color="text.secondary">
                    {translate('helpline.runs.stop_on_failure_hint')}
                  </Typography>
                </Box>
              }
            />
          </CardContent>
        </Card>
      </Box>
      <Box sx={{ mt: 2 }}>
        {missing > 0 && (
          <Alert severity="info" sx={{ mb: 2 }}>
            {translate('helpline.runs.requested_not_active', { smart_count: missing })}
          </Alert>
        )}
        <SessionChoices
          sessions={sessions}
          ticked={ticked}
          onTick={tick}
          errors={placed?.sessions ?? {}}
          listError={placed?.sessionList}
          loading={sessionsLoading}
        />
      </Box>
      {problems && (
        <Alert severity="error" sx={{ mt: 2 }} data-testid="run-error">
          {translate(problems.message)}
          {placed && placed.other.length > 0 && (
            <Box component="ul" sx={{ m: 0, pl: 2 }}>
              {placed.other.map((m) => (
                <li key={m}>{translate(m)}</li>
              ))}
            </Box>
          )}
        </Alert>
      )}
      <Stack direction={{ xs: 'column', sm: 'row' }} spacing={2} sx={{ mt: 2, alignItems: { sm: 'center' } }}>
        <Button
          variant="contained"
          size="large"
          startIcon={isPending ? <CircularProgress size={18} color="inherit" /> : <PlayArrow />}
          disabled={blocked || isPending}
          onClick={run}
          data-testid="run-button"
        >
          {translate('helpline.runs.run')}
        </Button>
        <Typography variant="body2" color="text.secondary">
          {items.length === 0
            ? translate('helpline.runs.need_script')
            : chosen.length === 0
              ? translate('helpline.runs.need_session')
              : translate('helpline.runs.summary', { scripts: items.length, sessions: chosen.length })}
        </Typography>
      </Stack>
    </Box>
  )
}

/** The page for `/run-scripts?session=…`: a new link (another session's button) starts afresh. */
export function RunScriptsPage() {
  const [params] = useSearchParams()
  const { search } = useLocation()
  const requested = useMemo(() => [...new Set(params.getAll('session'))], [params])
  return <RunScripts key={search} requested={requested} />
}

/** 128 random bits as hex: an Idempotency-Key (crypto.randomUUID needs a secure context; a console on plain HTTP has none). */
function randomKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('')
}
