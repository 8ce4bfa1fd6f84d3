/* The site's only script: plain JavaScript, no libraries, nothing fetched.
 *
 * - Sortable tables: every table.sortable; a header click (its <button>) sorts the rows,
 *   toggling ascending/descending, and sets aria-sort. Cells with a data-sort attribute sort by
 *   it (numbers numerically), others by their text; empty values go last.
 * - Filtering: an input[data-filter-table="ID"] hides the rows of table#ID whose text does not
 *   contain what was typed; an element #ID-count, if any, says how many rows are shown.
 * - The index page's map: select#map-analysis switches every [data-fill-KEY],
 *   [data-visibility-KEY], [data-text-KEY] and [data-for-analysis] element to the chosen
 *   analysis. Without the script, the page shows the default analysis.
 *
 * Pages without these elements are left alone.
 */
(function () {
  "use strict";

  function sortKey(cell) {
    if (!cell) {
      return { empty: true, number: NaN, text: "" };
    }
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : null;
    var text = (raw !== null ? raw : cell.textContent || "").trim();
    var number = raw !== null && raw !== "" ? Number(raw) : NaN;
    return { empty: text === "", number: number, text: text.toLowerCase() };
  }

  function compareKeys(a, b, numeric) {
    if (a.empty || b.empty) {
      return a.empty === b.empty ? 0 : (a.empty ? 1 : -1);
    }
    if (numeric && !isNaN(a.number) && !isNaN(b.number)) {
      return a.number - b.number;
    }
    return a.text.localeCompare(b.text, undefined, { numeric: true, sensitivity: "base" });
  }

  function sortTable(table, header) {
    var headers = Array.prototype.slice.call(header.parentNode.children);
    var index = headers.indexOf(header);
    var body = table.tBodies[0];
    if (!body || index < 0) {
      return;
    }
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, position) {
      return { row: row, key: sortKey(row.cells[index]), position: position };
    });
    var numeric = keyed.every(function (item) {
      return item.key.empty || !isNaN(item.key.number);
    });
    keyed.sort(function (a, b) {
      var order = compareKeys(a.key, b.key, numeric);
      if (a.key.empty || b.key.empty) {
        return order || a.position - b.position;  // missing values last either way
      }
      return (ascending ? order : -order) || a.position - b.position;
    });
    keyed.forEach(function (item) {
      body.appendChild(item.row);
    });
    headers.forEach(function (other) {
      other.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  function makeSortable(table) {
    var head = table.tHead;
    if (!head || !head.rows.length) {
      return;
    }
    Array.prototype.forEach.call(head.rows[head.rows.length - 1].cells, function (header) {
      var button = header.querySelector("button");
      if (!button) {
        button = document.createElement("button");
        button.type = "button";
        while (header.firstChild) {
          button.appendChild(header.firstChild);
        }
        header.appendChild(button);
      }
      button.addEventListener("click", function () {
        sortTable(table, header);
      });
    });
  }

  function setUpFilter(input) {
    var table = document.getElementById(input.getAttribute("data-filter-table"));
    if (!table || !table.tBodies.length) {
      return;
    }
    var counter = document.getElementById(table.id + "-count");
    function apply() {
      var words = input.value.toLowerCase().trim().split(/\s+/).filter(Boolean);
      var rows = table.tBodies[0].rows;
      var shown = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var text = (row.textContent || "").toLowerCase();
        var match = words.every(function (word) {
          return text.indexOf(word) !== -1;
        });
        row.hidden = !match;
        if (match) {
          shown += 1;
        }
      });
      if (counter) {
        counter.textContent = shown + " of " + rows.length + " shown";
      }
    }
    input.addEventListener("input", apply);
    if (input.value) {
      apply();  // a value the browser restored
    }
  }

  function showAnalysis(scope, key) {
    function each(selector, change) {
      Array.prototype.forEach.call(scope.querySelectorAll(selector), change);
    }
    each("[data-fill-" + key + "]", function (element) {
      element.setAttribute("fill", element.getAttribute("data-fill-" + key));
    });
    each("[data-visibility-" + key + "]", function (element) {
      element.setAttribute("visibility", element.getAttribute("data-visibility-" + key));
    });
    each("[data-text-" + key + "]", function (element) {
      element.textContent = element.getAttribute("data-text-" + key);
    });
    each("[data-for-analysis]", function (element) {
      element.hidden = element.getAttribute("data-for-analysis") !== key;
    });
  }

  function setUpMap(select) {
    var scope = document.getElementById("map-section") || document;
    function apply() {
      if (/^[a-z0-9-]+$/.test(select.value)) {
        showAnalysis(scope, select.value);
      }
    }
    select.addEventListener("change", apply);
    apply();  // the browser may restore another choice on reload
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
    Array.prototype.forEach.call(document.querySelectorAll("input[data-filter-table]"),
                                 setUpFilter);
    var select = document.getElementById("map-analysis");
    if (select) {
      setUpMap(select);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
