/* The step page: the accessible form fragment (stepforms) submitted as the JSON object the step
 * expects (each control's data-hf-type), to /web/tasks/ID/complete. A refusal ({refused: true}) brings the same
 * fragment back with each error at its field; the error summary takes the focus. */
(function () {
  "use strict";

  function value(el) {
    var type = el.getAttribute("data-hf-type");
    if (type === "boolean") return el.checked;
    var text = el.value;
    if (text === "") return undefined;
    if (type === "integer" || type === "number") { var n = Number(text); return isNaN(n) ? text : n; }
    if (type === "object" || (type === "array" && el.tagName === "TEXTAREA")) {
      try { return JSON.parse(text); } catch (e) { return text; }
    }
    return text;
  }

  function collect(form) {
    var data = {};
    Array.prototype.forEach.call(form.querySelectorAll("[name][data-hf-type]"), function (el) {
      if (el.disabled) return;
      var name = el.name;
      if (el.type === "checkbox" && el.getAttribute("data-hf-type") === "array") {
        data[name] = data[name] || [];
        if (el.checked) data[name].push(el.value);
        return;
      }
      var v = value(el);
      if (v !== undefined) data[name] = v;
    });
    return data;
  }

  function bind(holder) {
    var form = holder.querySelector("form");
    if (!form) return;
    var status = document.getElementById("hf-form-status");
    form.noValidate = true; // the server checks every rule and answers with the errors at their fields
    // the handling department fills the step's results (readOnly for the applicant's portal)
    Array.prototype.forEach.call(form.querySelectorAll("[readonly][data-hf-type]"), function (el) {
      el.readOnly = false;
      el.removeAttribute("aria-readonly");
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      status.textContent = "正在提交…";
      fetch(holder.getAttribute("data-complete"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(collect(form))
      })
        .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
        .then(function (answer) {
          if (answer.status === 200 && !answer.body.refused) {
            status.textContent = "已提交，正在打开办件。";
            window.location.assign(answer.body.location);
          } else if (answer.status === 200 && answer.body.html) {
            holder.innerHTML = answer.body.html;
            status.textContent = "提交未通过校验，请按提示修改。";
            bind(holder);
            var summary = holder.querySelector(".hf-errors");
            if (summary) summary.focus();
          } else {
            status.textContent = "提交失败：" + (answer.body.title || answer.status);
          }
        })
        .catch(function (err) { status.textContent = "提交失败：" + err.message; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var holder = document.getElementById("hf-task-form");
    if (holder) bind(holder);
  });
})();
