import PlaylistPlay from '@mui/icons-material/PlaylistPlay'
import { BatchList } from './BatchList.tsx'
import { BatchShow } from './BatchShow.tsx'

export { RunScriptsPage } from './RunScriptsPage.tsx'

/** Script runs ("batches"): started from the Run scripts page, read and cancelled here. */
export default {
  list: BatchList,
  show: BatchShow,
  create: undefined,
  edit: undefined,
  icon: PlaylistPlay,
}
