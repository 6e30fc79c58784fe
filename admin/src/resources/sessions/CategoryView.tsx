import { useState } from 'react'
import { Alert, Box, Button, Table, TableBody, TableCell, TableContainer, TableHead, TableRow, Typography } from '@mui/material'
import WarningAmber from '@mui/icons-material/WarningAmber'
import { useTranslate } from 'react-admin'
import type { SystemInfoCategory } from '../../api/resources/sessions.ts'
import { useSystemInfoWords } from '../../format/system-info.ts'

type InfoTable = SystemInfoCategory['tables'][number]

/** A category's name in the console's language; the agent's own title for one we do not know. */
export function useCategoryTitle() {
  const words = useSystemInfoWords()
  return (category: Pick<SystemInfoCategory, 'id' | 'title'>) => words.category(category)
}

function InfoTableView({ table, rowLimit, scroll }: { table: InfoTable; rowLimit: number | undefined; scroll: boolean }) {
  const translate = useTranslate()
  const words = useSystemInfoWords()
  const [all, setAll] = useState(false)
  const limited = rowLimit !== undefined && !all && table.rows.length > rowLimit
  const rows = limited ? table.rows.slice(0, rowLimit) : table.rows
  const note = words.note(table)
  return (
    <Box className="hl-info-table" sx={{ mt: 2 }}>
      <Typography variant="subtitle2" component="h4" sx={{ fontWeight: 700 }}>
        {words.title(table)}
      </Typography>
      <TableContainer sx={scroll ? { maxHeight: 480 } : undefined}>
        <Table size="small" stickyHeader={scroll}>
          <TableHead>
            <TableRow>
              {table.columns.map((c, i) => (
                <TableCell key={i} sx={{ fontWeight: 700, whiteSpace: 'nowrap' }}>
                  {words.column(table.columnKeys, i, c)}
                </TableCell>
              ))}
            </TableRow>
          </TableHead>
          <TableBody>
            {rows.length === 0 && (
              <TableRow>
                <TableCell colSpan={table.columns.length} sx={{ color: 'text.secondary' }}>
                  {translate('helpline.sysinfo.no_rows')}
                </TableCell>
              </TableRow>
            )}
            {rows.map((row, r) => (
              <TableRow key={r}>
                {table.columns.map((_, i) => {
                  const cell = words.cell(row[i] ?? '', table.columnKinds?.[i], table.columnKeys?.[i])
                  return (
                    // The customer's data as it came (names, paths, versions) is not to be translated.
                    <TableCell key={i} sx={{ wordBreak: 'break-word', verticalAlign: 'top' }} translate={cell.worded ? undefined : 'no'}>
                      {cell.text}
                    </TableCell>
                  )
                })}
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </TableContainer>
      {(note || limited) && (
        <Typography variant="caption" color="text.secondary" component="div" sx={{ mt: 0.5 }}>
          {note}
          {limited && (
            <>
              {note ? ' — ' : ''}
              {translate('helpline.sysinfo.rows_limited', { shown: rowLimit, total: table.rows.length })}{' '}
              <Button size="small" onClick={() => setAll(true)} className="hl-no-print">
                {translate('helpline.sysinfo.show_all')}
              </Button>
            </>
          )}
        </Typography>
      )}
    </Box>
  )
}

/**
 * One category: its key/value lines, then its tables, or why it could not be read. The screen
 * shows long tables in part (`rowLimit`) and scrolls them; the print view passes neither.
 */
export function CategoryView({
  category,
  rowLimit,
  scroll = false,
  headingComponent = 'h3',
}: {
  category: SystemInfoCategory
  rowLimit?: number
  scroll?: boolean
  headingComponent?: 'h2' | 'h3'
}) {
  const translate = useTranslate()
  const title = useCategoryTitle()
  const words = useSystemInfoWords()
  const empty = category.available && category.fields.length === 0 && category.tables.length === 0
  return (
    <Box component="section" className="hl-category" data-category={category.id} aria-label={title(category)}>
      <Typography variant="h6" component={headingComponent} className="hl-category-title" sx={{ mb: 1 }}>
        {title(category)}
      </Typography>
      {!category.available && (
        <Alert severity="warning" icon={<WarningAmber />} sx={{ mb: 1 }}>
          {translate('helpline.sysinfo.unavailable', { reason: category.reason || translate('helpline.sysinfo.no_reason') })}
        </Alert>
      )}
      {empty && (
        <Typography variant="body2" color="text.secondary">
          {translate('helpline.sysinfo.nothing')}
        </Typography>
      )}
      {category.fields.length > 0 && (
        <Table size="small" className="hl-fields">
          <TableBody>
            {category.fields.map((f, i) => (
              <TableRow key={i}>
                <TableCell component="th" scope="row" sx={{ fontWeight: 600, width: '32%', verticalAlign: 'top' }}>
                  {words.label(f)}
                </TableCell>
                <TableCell sx={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }} translate={f.kind && f.kind !== 'text' ? undefined : 'no'}>
                  {words.value(f.value, f.kind)}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      )}
      {category.tables.map((t, i) => (
        <InfoTableView key={`${category.id}-${i}`} table={t} rowLimit={rowLimit} scroll={scroll} />
      ))}
    </Box>
  )
}
