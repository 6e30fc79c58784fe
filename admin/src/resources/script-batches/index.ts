import PlaylistPlay from '@mui/icons-material/PlaylistPlay'
import { lazyPage } from '../../lazy.ts'

const BatchList = lazyPage(() => import('./BatchList.tsx'), 'BatchList')
const BatchShow = lazyPage(() => import('./BatchShow.tsx'), 'BatchShow')
export const RunScriptsPage = lazyPage(() => import('./RunScriptsPage.tsx'), 'RunScriptsPage')

/** Script runs ("batches"): started from the Run scripts page, read and cancelled here. */
export default {
  list: BatchList,
  show: BatchShow,
  create: undefined,
  edit: undefined,
  icon: PlaylistPlay,
}
