/* The workbench's diagrams: bpmn-js (static/bpmn-js/) draws the bundle, this file marks each
 * element's state, department, deadline and card colour, or an audit finding, on it.
 *
 * A page holds <div class="hf-diagram" data-bpmn="URL" (or data-xml="ID-OF-AN-XML-SCRIPT")
 * data-marks="ID-OF-A-JSON-SCRIPT">; the JSON
 * maps a BPMN element id to {state, department, deadline, card, findings: [text…]}. */
(function () {
  "use strict";

  var STATE_TEXT = { completed: "已完成", ready: "待办", paused: "已暂停", cancelled: "已取消" };
  var CARD_TEXT = { yellow: "黄牌", red: "红牌" };

  function text(tag, cls, value) {
    var el = document.createElement(tag);
    el.className = cls;
    el.textContent = value;
    return el;
  }

  function badge(mark) {
    var box = document.createElement("div");
    box.className = "hf-badge";
    if (mark.state) box.appendChild(text("span", "hf-badge-state hf-" + mark.state, STATE_TEXT[mark.state] || mark.state));
    if (mark.card) box.appendChild(text("span", "hf-badge-card hf-card-" + mark.card, CARD_TEXT[mark.card] || mark.card));
    if (mark.department) box.appendChild(text("span", "hf-badge-dept", mark.department));
    if (mark.deadline) box.appendChild(text("span", "hf-badge-due", "期限 " + mark.deadline));
    (mark.findings || []).forEach(function (f) { box.appendChild(text("span", "hf-badge-finding", f)); });
    return box;
  }

  /* Draw `xml` into `container` and mark it; resolves to {warnings, marked, drawn}. */
  function show(container, xml, marks) {
    var viewer = new window.BpmnJS({ container: container });
    return viewer.importXML(xml).then(function (result) {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var overlays = viewer.get("overlays");
      var marked = [];
      Object.keys(marks || {}).forEach(function (id) {
        var mark = marks[id];
        if (!registry.get(id)) return; // drawn on another plane (inside a collapsed subprocess) or not at all
        if (mark.state) canvas.addMarker(id, "hf-" + mark.state);
        if (mark.card) canvas.addMarker(id, "hf-card-" + mark.card);
        if (mark.findings && mark.findings.length) canvas.addMarker(id, "hf-finding");
        overlays.add(id, { position: { bottom: 4, left: 0 }, html: badge(mark) });
        marked.push(id);
      });
      canvas.zoom("fit-viewport");
      container.dataset.rendered = "true";
      return { warnings: result.warnings.length, marked: marked, drawn: registry.getAll().length, viewer: viewer };
    });
  }

  function start(container) {
    var marksId = container.getAttribute("data-marks");
    var marksEl = marksId && document.getElementById(marksId);
    var marks = marksEl ? JSON.parse(marksEl.textContent) : {};
    var inline = container.getAttribute("data-xml");
    var source = inline
      ? Promise.resolve(document.getElementById(inline).textContent)
      : fetch(container.getAttribute("data-bpmn"), { credentials: "same-origin" }).then(function (r) {
          if (!r.ok) throw new Error("图加载失败：" + r.status);
          return r.text();
        });
    return source
      .then(function (xml) { return show(container, xml, marks); })
      .catch(function (err) {
        container.dataset.rendered = "error";
        var why = /no diagram to display/.test(err.message) ? "文件中没有可显示的流程" : err.message;
        container.appendChild(text("p", "hf-error", "流程图无法显示：" + why));
      });
  }

  window.HennanFlow = { show: show, start: start };
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".hf-diagram[data-bpmn], .hf-diagram[data-xml]"), start);
  });
})();
