/* The audit view's upload: the chosen file's bytes are posted as the request body to /web/audit,
 * the answer's fragment (findings, checklists, the diagram) replaces the result. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("hf-upload");
    var status = document.getElementById("hf-upload-status");
    var result = document.getElementById("hf-audit-result");
    if (!form) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = document.getElementById("upload").files[0];
      if (!file) { status.textContent = "请先选择一个 BPMN 文件。"; return; }
      status.textContent = "正在审查 " + file.name + "…";
      fetch("/web/audit", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/xml", "X-File-Name": encodeURIComponent(file.name) },
        body: file
      })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (!body.html) { status.textContent = "无法审查：" + body.title; return; }
          result.innerHTML = body.html;
          status.textContent = "审查完成：" + file.name;
          var diagram = result.querySelector(".hf-diagram");
          if (diagram) window.HennanFlow.start(diagram);
          var heading = result.querySelector("h2");
          if (heading) { heading.tabIndex = -1; heading.focus(); }
        })
        .catch(function (err) { status.textContent = "无法审查：" + err.message; });
    });
  });
})();
