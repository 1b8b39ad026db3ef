// The shared top bar of the console's own pages (shell.html): its language selector, and
// ?lang=ru opening the page in that language (remembered, as the selector does). A page
// calls startPage(start) once; start runs when the catalogue is in.
export async function startPage(start) {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked && window.i18n.use(asked)) {
    location.reload();
    return;
  }
  await window.i18n.ready;
  const lang = document.getElementById("lang");
  lang.value = window.i18n.lang;
  lang.addEventListener("change", () => window.i18n.use(lang.value) && location.reload());
  await start();
}
