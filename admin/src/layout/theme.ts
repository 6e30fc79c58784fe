import { defaultTheme, type RaThemeOptions } from 'react-admin'

/**
 * react-admin's theme with primary, warning and info colours dark enough for WCAG AA text contrast (4.5:1)
 * on white and under white text: MUI's own (#ed6c02, #0288d1) are about 3:1, which axe reports
 * on the Restart button and the status chips.
 */
export const theme: RaThemeOptions = {
  ...defaultTheme,
  palette: {
    ...defaultTheme.palette,
    // The favicon's blue: links and text buttons on white and on the grey of a hovered row.
    primary: { main: '#1565c0' },
    warning: { main: '#a34700' },
    info: { main: '#01579b' },
  },
}
