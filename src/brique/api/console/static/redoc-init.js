// ReDoc over this server's OpenAPI document, with the system font stack (no web fonts fetched).
Redoc.init("/openapi.json", {
  theme: { typography: { fontFamily: "system-ui, sans-serif", headings: { fontFamily: "system-ui, sans-serif" } } },
}, document.getElementById("redoc"));
