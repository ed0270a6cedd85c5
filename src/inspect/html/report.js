// The timeline: one lane per node on one UTC axis, zoom (buttons, wheel), drag to pan, filters by
// node/severity/kind, and a click shows the log line and the finding it supports. Where events
// were too dense to draw one by one, a bar stands for them with their number (data.thinned).
// Bundle text is only ever set with textContent, never parsed as HTML.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var L = data.labels;
  var events = data.events.map(function (a) {
    return { n: a[0], t: a[1], k: a[2], s: a[3], g: a[4] === 1, p: data.paths[a[5]], l: a[6],
      x: a[7], f: a[8], id: 'e' + a[0] + '-' + a[9], el: null, row: null };
  });
  var bars = (data.thinned || []).map(function (a) {
    return { n: a[0], from: a[1], to: a[2], c: a[3], s: a[4], el: null };
  });
  // Both nodes interleaved in time, for the list under the lanes.
  events.sort(function (a, b) { return a.t - b.t || a.n - b.n; });
  var byId = {};
  events.forEach(function (e) { byId[e.id] = e; });
  var show = { node: data.nodes.map(function () { return true; }),
    sev: { error: true, warning: true, info: true },
    kind: { repl: true, drx: true, log: true, collect: true } };
  var min = Infinity, max = -Infinity;
  events.forEach(function (e) { if (e.t < min) min = e.t; if (e.t > max) max = e.t; });
  bars.forEach(function (b) { if (b.from < min) min = b.from; if (b.to > max) max = b.to; });
  if (!isFinite(min)) { min = Date.now() - 3600e3; max = Date.now(); }
  if (max - min < 60e3) { min -= 30e3; max += 30e3; }
  var pad = (max - min) * 0.02;
  var full = { from: min - pad, to: max + pad };
  var view = { from: full.from, to: full.to };
  var selected = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function iso(t) { return new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ''); }
  function visible(e) {
    return show.node[e.n] && show.sev[e.s] && show.kind[e.k];
  }

  // Filters.
  var filters = document.getElementById('filters');
  function box(group, label, get, set) {
    var lab = el('label');
    var input = el('input');
    input.type = 'checkbox';
    input.checked = get();
    input.addEventListener('change', function () { set(input.checked); render(); });
    lab.appendChild(input);
    lab.appendChild(document.createTextNode(' ' + label));
    group.appendChild(lab);
    return input;
  }
  var g1 = el('span', 'group');
  data.nodes.forEach(function (node, i) {
    box(g1, node.name, function () { return show.node[i]; }, function (v) { show.node[i] = v; })
      .setAttribute('data-filter-node', node.name);
  });
  var g2 = el('span', 'group');
  ['error', 'warning', 'info'].forEach(function (s) {
    box(g2, L.sev[s], function () { return show.sev[s]; }, function (v) { show.sev[s] = v; });
  });
  var g3 = el('span', 'group');
  ['repl', 'drx', 'log', 'collect'].forEach(function (k) {
    box(g3, L.kind[k], function () { return show.kind[k]; }, function (v) { show.kind[k] = v; });
  });
  [g1, g2, g3].forEach(function (g) { filters.appendChild(g); });

  // Lanes and event marks.
  var lanes = document.getElementById('lanes');
  var tracks = data.nodes.map(function (node) {
    var lane = el('div', 'lane');
    lane.setAttribute('data-node', node.name);
    lane.appendChild(el('div', 'lane-name', node.name));
    var track = el('div', 'track');
    lane.appendChild(track);
    lanes.appendChild(lane);
    return track;
  });
  events.forEach(function (e) {
    var mark = el('div', 'ev k-' + e.k + ' s-' + e.s);
    mark.id = e.id;
    mark.setAttribute('data-node', data.nodes[e.n].name);
    mark.setAttribute('data-sev', e.s);
    mark.setAttribute('data-kind', e.k);
    mark.title = (e.g ? '≈ ' : '') + iso(e.t) + '  ' + e.x;
    mark.addEventListener('click', function (ev) { ev.stopPropagation(); select(e, false); });
    e.el = mark;
    tracks[e.n].appendChild(mark);
  });

  bars.forEach(function (b) {
    var bar = el('div', 'thin s-' + b.s, String(b.c));
    bar.setAttribute('data-node', data.nodes[b.n].name);
    bar.setAttribute('data-count', String(b.c));
    bar.title = b.c + ' ' + L.bar + '  ' + iso(b.from) + ' – ' + iso(b.to);
    b.el = bar;
    tracks[b.n].appendChild(bar);
  });

  var STEPS = [1e3, 5e3, 15e3, 60e3, 300e3, 900e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3,
    86400e3, 7 * 86400e3, 30 * 86400e3, 365 * 86400e3];
  var axis = document.getElementById('axis');
  function drawAxis() {
    while (axis.firstChild) axis.removeChild(axis.firstChild);
    tracks.forEach(function (t) {
      Array.prototype.slice.call(t.querySelectorAll('.gridline')).forEach(function (g) { t.removeChild(g); });
    });
    var span = view.to - view.from;
    var step = STEPS[STEPS.length - 1];
    for (var i = 0; i < STEPS.length; i++) { if (span / STEPS[i] <= 8) { step = STEPS[i]; break; } }
    var first = Math.ceil(view.from / step) * step;
    for (var t = first; t <= view.to; t += step) {
      var x = (t - view.from) / span * 100;
      var label = iso(t);
      if (step >= 86400e3) label = label.slice(0, 10);
      else if (step >= 60e3) label = label.slice(0, 16);
      var tick = el('div', 'tick', label);
      tick.style.left = x + '%';
      axis.appendChild(tick);
      tracks.forEach(function (track) {
        var g = el('div', 'gridline');
        g.style.left = x + '%';
        track.insertBefore(g, track.firstChild);
      });
    }
  }

  var list = document.getElementById('event-list');
  var LIST_CAP = 300;
  function drawList(inView, thinnedInView) {
    while (list.firstChild) list.removeChild(list.firstChild);
    var p = el('p', 'muted', inView.length + ' ' + L.shown +
      (inView.length > LIST_CAP ? ' — ' + (inView.length - LIST_CAP) + ' ' + L.more : '') +
      (thinnedInView ? ' — ' + thinnedInView + ' ' + L.thinned : ''));
    list.appendChild(p);
    if (!inView.length) { list.appendChild(el('p', 'muted', L.none)); return; }
    var table = el('table');
    var head = el('tr');
    [L.time, L.node, L.source, L.line].forEach(function (h) { head.appendChild(el('th', '', h)); });
    table.appendChild(head);
    inView.slice(0, LIST_CAP).forEach(function (e) {
      var tr = el('tr');
      tr.setAttribute('data-event', e.id);
      tr.appendChild(el('td', 'when', (e.g ? '≈ ' : '') + iso(e.t)));
      tr.appendChild(el('td', '', data.nodes[e.n].name));
      tr.appendChild(el('td', '', e.p + (e.l ? ':' + e.l : '')));
      var sev = el('td', 'text', e.x);
      if (e.s !== 'info') sev.style.color = e.s === 'error' ? '#c62828' : '#b26a00';
      tr.appendChild(sev);
      tr.addEventListener('click', function () { select(e, false); });
      table.appendChild(tr);
    });
    list.appendChild(table);
  }

  function render() {
    var span = view.to - view.from;
    var inView = [];
    events.forEach(function (e) {
      var on = visible(e) && e.t >= view.from && e.t <= view.to;
      e.el.classList.toggle('hidden', !on);
      if (on) { e.el.style.left = ((e.t - view.from) / span * 100) + '%'; inView.push(e); }
    });
    var thinnedInView = 0;
    bars.forEach(function (b) {
      var on = show.node[b.n] && show.sev[b.s] && b.to >= view.from && b.from <= view.to;
      b.el.classList.toggle('hidden', !on);
      if (!on) return;
      var left = Math.max(b.from, view.from), right = Math.min(b.to, view.to);
      b.el.style.left = ((left - view.from) / span * 100) + '%';
      b.el.style.width = Math.max(0.2, (right - left) / span * 100) + '%';
      thinnedInView += b.c;
    });
    drawAxis();
    drawList(inView, thinnedInView);
  }

  function zoom(factor, frac) {
    if (frac === undefined) frac = 0.5;
    var span = view.to - view.from;
    var center = view.from + span * frac;
    var next = Math.max(2e3, Math.min(span * factor, (full.to - full.from) * 1.5));
    view.from = center - next * frac;
    view.to = view.from + next;
    render();
  }
  document.getElementById('zoom-in').addEventListener('click', function () { zoom(0.5); });
  document.getElementById('zoom-out').addEventListener('click', function () { zoom(2); });
  document.getElementById('zoom-reset').addEventListener('click', function () {
    view.from = full.from; view.to = full.to; render();
  });
  function fracAt(clientX) {
    var r = tracks.length ? tracks[0].getBoundingClientRect() : lanes.getBoundingClientRect();
    return Math.min(1, Math.max(0, (clientX - r.left) / (r.width || 1)));
  }
  lanes.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    zoom(ev.deltaY < 0 ? 0.8 : 1.25, fracAt(ev.clientX));
  }, { passive: false });
  var drag = null;
  lanes.addEventListener('mousedown', function (ev) {
    drag = { x: ev.clientX, from: view.from, to: view.to, moved: false };
    lanes.classList.add('dragging');
  });
  window.addEventListener('mousemove', function (ev) {
    if (!drag) return;
    var width = tracks.length ? tracks[0].getBoundingClientRect().width : 1;
    var dt = (ev.clientX - drag.x) / (width || 1) * (drag.to - drag.from);
    if (Math.abs(ev.clientX - drag.x) > 2) drag.moved = true;
    view.from = drag.from - dt; view.to = drag.to - dt;
    render();
  });
  window.addEventListener('mouseup', function () { drag = null; lanes.classList.remove('dragging'); });

  var panel = document.getElementById('event-detail');
  function row(dl, term, value) {
    dl.appendChild(el('dt', '', term));
    var dd = el('dd');
    if (typeof value === 'string') dd.textContent = value; else dd.appendChild(value);
    dl.appendChild(dd);
  }
  function select(e, reveal) {
    if (selected && selected.el) selected.el.classList.remove('sel');
    selected = e;
    if (reveal) {
      var span = Math.min(view.to - view.from, 3600e3);
      view.from = e.t - span / 2; view.to = e.t + span / 2;
      show.node[e.n] = true; show.sev[e.s] = true; show.kind[e.k] = true;
      Array.prototype.slice.call(filters.querySelectorAll('input')).forEach(function (i) {
        if (!i.checked) { i.checked = true; }
      });
      show.node = show.node.map(function () { return true; });
      ['error', 'warning', 'info'].forEach(function (s) { show.sev[s] = true; });
      Object.keys(show.kind).forEach(function (k) { show.kind[k] = true; });
      render();
    }
    e.el.classList.add('sel');
    while (panel.firstChild) panel.removeChild(panel.firstChild);
    var dl = el('dl');
    row(dl, L.time, (e.g ? '≈ ' : '') + iso(e.t) + (e.g ? '  (' + L.guessed + ')' : ''));
    row(dl, L.node, data.nodes[e.n].name);
    row(dl, L.source, e.p + (e.l ? ':' + e.l : ''));
    row(dl, L.line, el('pre', '', e.x));
    if (e.f.length) {
      var links = el('span');
      e.f.forEach(function (i) {
        var f = data.findings[i];
        if (!f) return;
        var a = el('a', '', f.rule + ' — ' + f.title);
        a.href = '#f' + i;
        links.appendChild(a);
        links.appendChild(el('br'));
      });
      row(dl, L.finding, links);
    }
    panel.appendChild(dl);
    panel.hidden = false;
  }
  Array.prototype.slice.call(document.querySelectorAll('button.goto')).forEach(function (b) {
    b.addEventListener('click', function () {
      var e = byId[b.getAttribute('data-event')];
      if (!e) return;
      select(e, true);
      document.getElementById('timeline').scrollIntoView();
    });
  });

  render();
  document.body.setAttribute('data-ready', '1');
})();
