// Entry point of the app's window: the real IPC boundary (Tauri's global API) and the App.
// Everything else lives in app.ts and views/, which the tests drive with a fake Ipc.

import { App } from "./app";
import { VIEWS, type ViewName } from "./ctx";
import { tauriIpc } from "./ipc";

const app = new App(document.getElementById("app")!, tauriIpc());
void app.start().then(() => {
  // A window opened at a screen (the tray's "History", a clicked notification) says which
  // one in its address: index.html#history.
  const wanted = location.hash.slice(1) as ViewName;
  if (VIEWS.includes(wanted)) app.show(wanted, { focus: true });
});
