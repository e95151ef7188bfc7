// Starts Swagger UI on /docs. A file of its own, not an inline script, so that the page's Content-Security-Policy
// can forbid inline scripts: the OpenAPI document's address comes from the page's data-openapi-url attribute.
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
