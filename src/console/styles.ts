/** The console's stylesheet, served at /assets/console.css (no build step: it ships as code). */
export const CONSOLE_CSS = `
:root { --bg:#f5f6f8; --panel:#fff; --ink:#1d2330; --muted:#667085; --line:#e3e6eb; --brand:#243b6b; --accent:#2f6fde;
  --ok:#1f8a4c; --warn:#b7791f; --bad:#c0392b; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
header.top { display:flex; align-items:center; gap:24px; padding:0 24px; height:52px; background:var(--brand); color:#fff; }
header.top .brand { font-weight:700; letter-spacing:.3px; font-size:16px; }
header.top .brand span { opacity:.7; font-weight:400; }
header.top nav { display:flex; gap:4px; flex:1; }
header.top nav a { color:#dfe6f5; padding:6px 12px; border-radius:6px; }
header.top nav a.on, header.top nav a:hover { background:rgba(255,255,255,.14); color:#fff; text-decoration:none; }
header.top .who { font-size:13px; display:flex; gap:10px; align-items:center; }
header.top .who form { margin:0; }
header.top select { background:rgba(255,255,255,.12); color:#fff; border:1px solid rgba(255,255,255,.3); border-radius:6px; padding:4px 8px; }
header.top select option { color:var(--ink); }
main { padding:20px 24px 40px; max-width:1400px; margin:0 auto; }
h1 { font-size:20px; margin:4px 0 16px; } h2 { font-size:15px; margin:0 0 10px; color:var(--muted); text-transform:uppercase; letter-spacing:.6px; }
.grid { display:grid; gap:16px; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); margin-bottom:16px; }
.card { background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:14px 16px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.5px; }
.card .value { font-size:26px; font-weight:650; margin-top:4px; font-variant-numeric: tabular-nums; }
.card .sub { color:var(--muted); font-size:12px; margin-top:2px; }
.panel { background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:16px; margin-bottom:16px; }
.cols { display:grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap:16px; } @media (max-width: 1000px) { .cols { grid-template-columns: 1fr; } }
table { width:100%; border-collapse:collapse; font-variant-numeric: tabular-nums; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); font-weight:600; text-transform:uppercase; letter-spacing:.4px; }
td.num, th.num { text-align:right; }
tr:last-child td { border-bottom:none; }
code, pre, .mono { font-family:var(--mono); font-size:12.5px; }
pre { background:#f0f2f5; border:1px solid var(--line); border-radius:8px; padding:10px 12px; overflow:auto; max-height:320px; margin:0; }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; background:#eef1f6; color:var(--muted); }
.pill.committed, .pill.done, .pill.ok, .pill.published { background:#e3f4ea; color:var(--ok); }
.pill.rejected, .pill.warn, .pill.unpublished { background:#fdf1dc; color:var(--warn); }
.pill.failed, .pill.bad, .pill.error { background:#fbe5e2; color:var(--bad); }
.muted { color:var(--muted); } .empty { color:var(--muted); padding:12px 0; }
form.filters { display:flex; flex-wrap:wrap; gap:10px; align-items:flex-end; margin-bottom:12px; }
form.filters label, form.stack label { display:flex; flex-direction:column; gap:3px; font-size:12px; color:var(--muted); }
input, select, button { font:inherit; }
input[type=text], input[type=password], select.field { padding:6px 9px; border:1px solid #cfd4dc; border-radius:6px; background:#fff; min-width:150px; }
button, .button { background:var(--accent); color:#fff; border:none; border-radius:6px; padding:7px 14px; cursor:pointer; font-weight:600; display:inline-block; }
button.secondary, .button.secondary { background:#e8ecf3; color:var(--ink); }
button.danger { background:var(--bad); }
button:disabled { opacity:.5; cursor:not-allowed; }
.banner { padding:10px 14px; border-radius:8px; margin-bottom:14px; border:1px solid; }
.banner.error { background:#fbe5e2; border-color:#f2c1ba; color:#7d2217; }
.banner.info { background:#e8f0fd; border-color:#c6d7f7; color:#1d3f7a; }
.banner.ok { background:#e3f4ea; border-color:#bfe3cd; color:#175c34; }
dl.facts { display:grid; grid-template-columns: 160px 1fr; gap:6px 16px; margin:0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; word-break:break-all; }
.chart { min-height:240px; }
.toolbar { display:flex; gap:10px; align-items:center; margin-bottom:12px; }
.pager { display:flex; justify-content:flex-end; gap:10px; margin-top:10px; }
.live-list { max-height:520px; overflow:auto; }
.cols.live-cols { grid-template-columns: minmax(0, 2fr) minmax(0, 3fr); }
.live-list td, .live-list th { white-space:nowrap; }
.login { max-width:380px; margin:60px auto; }
.login form { display:flex; flex-direction:column; gap:12px; }
`;
