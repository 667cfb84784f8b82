// wireblame HTML report: draws the waterfall, the time–sequence graphs and
// the findings list from the JSON blob in the script element #data.
//
// Blob layout (written by src/report/html.rs). All times are microseconds
// relative to `t0` (the capture's first packet); strings are indices into S
// (-1 = none).
//   causes: [[key, label]] in blame_ms order
//   C (connections): [id, client, server, start, end, rtt_us, vantage,
//       protocol, close, retrans client, retrans server, transactions, syn,
//       synack, ack, bytes client, bytes server, packets client, packets
//       server, roles, [mss c, mss s, wscale c, wscale s], [zero windows c, s]]
//   T (transactions): [id, connection, index, method, uri, host, status,
//       start, total_us, [cause, us, cause, us…], dominant cause, [request
//       first frame, request last, response first, response last] (0 = none),
//       incomplete, flags (1 pipelined, 2 reused), [blocked, dns, connect,
//       send, wait, receive] µs (-1 = n/a), [finding indices], request
//       bytes, response bytes, version]
//   F (findings): [kind, connection, transaction, start, duration, [frames],
//       detail, confidence, saving_us, recommendation, cause]
//   G (graphs): [connection, points recorded, flat points (7 per point:
//       Δt, side + 2·kind, seq start, length, ack (-1), window, Δframe),
//       stalls [[side, start, duration, frame before, frame after]]]
//   X: what the size budget left out.
//
// Only the waterfall rows on screen exist in the DOM, so 10,000
// transactions scroll as smoothly as ten. Everything from the capture is
// escaped before it reaches innerHTML: URIs in captures can be hostile.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var S = D.S, C = D.C, T = D.T, F = D.F, G = D.G, X = D.X;
  var LABEL = D.causes.map(function (c) { return c[1]; });
  var KEY = D.causes.map(function (c) { return c[0]; });
  var STACK = [0, 2, 1, 3, 4, 5, 7, 6, 8, 9, 10, 11, 12, 13, 14];
  var ROW = 24;
  var $ = function (id) { return document.getElementById(id); };
  var body = document.body;
  body.dataset.transactions = String(T.length);
  body.dataset.bars = '0';

  // ------------------------------------------------------------ formatting
  function str(i) { return i >= 0 ? S[i] : null; }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function group(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function fmtUs(us) {
    var ms = us / 1000, a = Math.abs(ms);
    if (us === 0) return '0 ms';
    if (a >= 3600000) return (ms / 3600000).toFixed(1) + ' h';
    if (a >= 60000) return (ms / 60000).toFixed(1) + ' min';
    if (a >= 10000) return (ms / 1000).toFixed(1) + ' s';
    if (a >= 1000) return (ms / 1000).toFixed(2) + ' s';
    if (a >= 100) return ms.toFixed(0) + ' ms';
    if (a >= 10) return ms.toFixed(1) + ' ms';
    if (a >= 1) return ms.toFixed(2) + ' ms';
    return ms.toFixed(3) + ' ms';
  }
  function fmtAt(us) { return '+' + fmtUs(us); }
  function fmtBytes(b) {
    if (b < 1024) return b + ' B';
    if (b < 1048576) return (b / 1024).toFixed(1) + ' KiB';
    if (b < 1073741824) return (b / 1048576).toFixed(1) + ' MiB';
    return (b / 1073741824).toFixed(2) + ' GiB';
  }
  function pct(part, whole) {
    if (whole <= 0) return '0%';
    var p = part / whole * 100;
    if (p > 0 && p < 0.1) return '<0.1%';
    return p < 10 ? p.toFixed(1) + '%' : p.toFixed(0) + '%';
  }
  function framesText(fr) {
    if (!fr || !fr.length) return '—';
    var parts = [], i = 0;
    while (i < fr.length && parts.length < 12) {
      var j = i;
      while (j + 1 < fr.length && fr[j + 1] === fr[j] + 1) j++;
      parts.push(j > i ? fr[i] + '–' + fr[j] : String(fr[i]));
      i = j + 1;
    }
    if (i < fr.length) parts.push('…');
    return parts.join(', ');
  }
  function sw(cause) { return cause >= 0 ? '<i class="sw c' + cause + '"></i>' : '<i class="sw sw0"></i>'; }
  // Tick positions at 1, 2 or 5 times a power of ten.
  function niceStep(range, n) {
    var raw = range / Math.max(1, n);
    if (!(raw > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return p * (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10);
  }
  function ticks(a, b, n) {
    var st = niceStep(b - a, n), out = [];
    for (var v = Math.ceil(a / st) * st; v <= b + st * 1e-9 && out.length < 200; v += st) out.push(v);
    return { step: st, values: out };
  }
  function decimals(step) { return Math.max(0, Math.min(6, Math.ceil(-Math.log10(step) - 1e-9))); }
  // One unit per axis so labels never mix ms and s: seconds once the axis
  // reaches a second and ticks are at least 100 ms apart.
  function fmtTick(us, step, end) {
    if (step >= 1e5 && Math.abs(end) >= 1e6) return '+' + (us / 1e6).toFixed(decimals(step / 1e6)) + ' s';
    return '+' + (us / 1000).toFixed(decimals(step / 1000)) + ' ms';
  }
  function byteUnit(max) { return max >= 1e6 ? [1e6, ' MB'] : max >= 1e4 ? [1e3, ' kB'] : [1, ' B']; }

  // ------------------------------------------------------------ indexes
  var connIdx = new Map(), txOfConn = new Map(), graphOf = new Map(), findingsOf = new Map();
  C.forEach(function (c, i) { connIdx.set(c[0], i); });
  T.forEach(function (t, i) {
    var a = txOfConn.get(t[1]);
    if (!a) txOfConn.set(t[1], a = []);
    a.push(i);
  });
  G.forEach(function (g) { graphOf.set(g[0], g); });
  F.forEach(function (f, i) {
    if (f[1] < 0) return;
    var a = findingsOf.get(f[1]);
    if (!a) findingsOf.set(f[1], a = []);
    a.push(i);
  });
  function txIndexById(id) {
    if (id >= 0 && id < T.length && T[id][0] === id) return id;
    for (var i = 0; i < T.length; i++) if (T[i][0] === id) return i;
    return -1;
  }
  function parts(t) {
    var p = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], b = t[9];
    for (var k = 0; k + 1 < b.length; k += 2) p[b[k]] = b[k + 1];
    return p;
  }
  function connLabel(c) { return '#' + c[0] + ' ' + str(c[1]) + ' → ' + str(c[2]); }

  // ------------------------------------------------------------ tooltip
  var tip = $('tip');
  function showTip(html, x, y) {
    tip.innerHTML = html;
    tip.hidden = false;
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var vw = window.innerWidth, vh = window.innerHeight;
    var left = x + 16, top = y + 14;
    if (left + w > vw - 8) left = Math.max(8, x - w - 16);
    if (top + h > vh - 8) top = Math.max(8, vh - h - 8);
    tip.style.left = left + 'px';
    tip.style.top = top + 'px';
  }
  function hideTip() { tip.hidden = true; }

  function findingLine(fi) {
    var f = F[fi], d = str(f[6]);
    return '<div>' + sw(f[10]) + '<code>' + esc(str(f[0])) + '</code> ' + fmtUs(f[4]) +
      ' · frames ' + esc(framesText(f[5])) + ' · ' + esc(str(f[7])) +
      (d ? '<div class="d">' + esc(d) + '</div>' : '') + '</div>';
  }
  function txTip(ti) {
    var t = T[ti], p = parts(t), total = t[8];
    var m = str(t[3]), u = str(t[4]), host = str(t[5]), st = t[6];
    var h = '<h3>' + esc((m || '') + ' ' + (u || '(no request)')) + '</h3><div class="sub">';
    var sub = [];
    if (host) sub.push(esc(host));
    if (str(t[18])) sub.push(esc(str(t[18])));
    sub.push(st >= 0 ? 'status ' + st : 'no status');
    sub.push('connection #' + t[1] + ', request ' + (t[2] + 1));
    if (t[13] & 1) sub.push('pipelined');
    if (str(t[12])) sub.push('<b>incomplete: ' + esc(str(t[12])) + '</b>');
    h += sub.join(' · ') + '</div>';
    h += '<div>Total <b>' + fmtUs(total) + '</b> from ' + fmtAt(t[7]) + ' · mostly ' + esc(LABEL[t[10]]) + '</div><table>';
    STACK.forEach(function (i) {
      if (p[i] > 0) h += '<tr><td>' + sw(i) + esc(LABEL[i]) + '</td><td class="num">' + fmtUs(p[i]) + '</td><td class="num">' + pct(p[i], total) + '</td></tr>';
    });
    h += '</table>';
    var ph = t[14], names = ['blocked', 'dns', 'connect', 'send', 'wait', 'receive'], phs = [];
    for (var k = 0; k < 6; k++) if (ph[k] >= 0) phs.push(names[k] + ' ' + fmtUs(ph[k]));
    if (phs.length) h += '<div class="sub" style="margin:4px 0 0">HAR phases: ' + phs.join(' · ') + '</div>';
    var fr = t[11], fl = [];
    if (fr[0]) fl.push('request ' + (fr[0] === fr[1] ? fr[0] : fr[0] + '–' + fr[1]));
    if (fr[2]) fl.push('response ' + (fr[2] === fr[3] ? fr[2] : fr[2] + '–' + fr[3]));
    if (fl.length) h += '<div>Frames: ' + fl.join(' · ') + '</div>';
    var fs = t[15];
    if (fs.length) {
      h += '<div class="ev"><b>Evidence</b>';
      fs.slice(0, 6).forEach(function (fi) { h += findingLine(fi); });
      if (fs.length > 6) h += '<div class="d">and ' + (fs.length - 6) + ' more in the connection panel</div>';
      h += '</div>';
    }
    return h;
  }

  // ------------------------------------------------------------ waterfall
  var dom0 = Infinity, dom1 = -Infinity;
  T.forEach(function (t) { dom0 = Math.min(dom0, t[7]); dom1 = Math.max(dom1, t[7] + t[8]); });
  if (!T.length) { dom0 = 0; dom1 = 1000; }
  if (dom1 - dom0 < 1000) dom1 = dom0 + 1000;
  // A little room on the right so the last bar does not touch the edge.
  var full = [dom0, dom1 + (dom1 - dom0) * 0.01];
  var view = full.slice();
  var rows = [];
  var order = 'conn';
  var selConn = -1, selTx = -1;
  var barsSeen = new Set();
  var scroller = $('wf-scroll'), inner = $('wf-inner'), axis = $('wf-axis');
  var haystack = [];

  function hay(i) {
    if (haystack[i] === undefined) {
      var t = T[i];
      haystack[i] = [str(t[3]), str(t[4]), str(t[5]), t[6] >= 0 ? t[6] : '', str(t[12]), KEY[t[10]], LABEL[t[10]]]
        .join(' ').toLowerCase();
    }
    return haystack[i];
  }
  // The filter language: words match method, URI, host, status, incomplete
  // reason and cause; `conn:N`, `cause:KEY`, `status:N` and `>N` (ms, or
  // `>2s`) narrow further.
  function compile(q) {
    var tests = [];
    q.toLowerCase().split(/\s+/).filter(Boolean).forEach(function (w) {
      var m;
      if ((m = /^conn:#?(\d+)$/.exec(w))) { var cid = +m[1]; tests.push(function (t) { return t[1] === cid; }); }
      else if ((m = /^cause:(\w+)$/.exec(w))) { var ck = m[1]; tests.push(function (t) { return KEY[t[10]].indexOf(ck) === 0; }); }
      else if ((m = /^status:(\d+)$/.exec(w))) { var sc = m[1]; tests.push(function (t) { return String(t[6]).indexOf(sc) === 0; }); }
      else if ((m = /^>(\d+(?:\.\d+)?)(ms|s)?$/.exec(w))) { var lim = +m[1] * (m[2] === 's' ? 1e6 : 1e3); tests.push(function (t) { return t[8] > lim; }); }
      else tests.push(function (t, i) { return hay(i).indexOf(w) >= 0; });
    });
    return function (t, i) { for (var k = 0; k < tests.length; k++) if (!tests[k](t, i)) return false; return true; };
  }
  function buildRows() {
    var ok = compile($('wf-filter').value);
    var sel = [];
    for (var i = 0; i < T.length; i++) if (ok(T[i], i)) sel.push(i);
    rows = [];
    var conns = 0;
    if (order === 'conn') {
      var seen = new Map();
      sel.forEach(function (i) {
        var c = T[i][1], a = seen.get(c);
        if (!a) seen.set(c, a = []);
        a.push(i);
      });
      var ids = Array.from(seen.keys()).sort(function (a, b) { return a - b; });
      ids.forEach(function (c) {
        var ci = connIdx.get(c);
        rows.push(ci === undefined ? -1 - C.length - c : -1 - ci);
        seen.get(c).forEach(function (i) { rows.push(i); });
      });
      conns = ids.length;
    } else {
      if (order === 'slow') sel.sort(function (a, b) { return T[b][8] - T[a][8] || a - b; });
      else sel.sort(function (a, b) { return T[a][7] - T[b][7] || a - b; });
      rows = sel;
      conns = new Set(sel.map(function (i) { return T[i][1]; })).size;
    }
    inner.style.height = Math.max(rows.length * ROW, 40) + 'px';
    // Short lists take only the room they need; long ones scroll.
    scroller.style.height = Math.min(560, Math.max(rows.length * ROW, 40) + 2) + 'px';
    var note = T.length
      ? 'Showing ' + group(sel.length) + ' of ' + group(T.length) + ' transactions on ' + group(conns) + (conns === 1 ? ' connection' : ' connections') +
        '. Times are from the capture\'s first packet.'
      : 'No HTTP transactions were found in this capture.';
    if (X.uris_clipped) note += ' ' + group(X.uris_clipped) + ' long URIs are shortened.';
    $('wf-status').textContent = note;
  }
  function xp(t) { return (t - view[0]) / (view[1] - view[0]) * 100; }
  function barHtml(ti) {
    var t = T[ti], a = t[7], b = t[7] + t[8];
    if (b < view[0] || a > view[1]) return '';
    var ca = Math.max(a, view[0]), cb = Math.min(b, view[1]), span = cb - ca;
    var left = xp(ca), width = Math.max(0, xp(cb) - left);
    var segs = '';
    if (span <= 0) {
      segs = '<i class="c' + t[10] + '" style="left:0;width:100%"></i>';
    } else {
      var p = parts(t), pos = a;
      for (var k = 0; k < 15; k++) {
        var i = STACK[k], us = p[i];
        if (!us) continue;
        var sa = Math.max(pos, ca), sb = Math.min(pos + us, cb);
        pos += us;
        if (sb <= sa) continue;
        segs += '<i class="c' + i + '" style="left:' + ((sa - ca) / span * 100).toFixed(3) + '%;width:' +
          ((sb - sa) / span * 100).toFixed(3) + '%"></i>';
      }
    }
    return '<span class="bar" data-tx="' + ti + '" style="left:' + left.toFixed(4) + '%;width:' + width.toFixed(4) + '%">' + segs + '</span>';
  }
  function statusHtml(st) {
    if (st < 0) return '<span class="st sx">—</span>';
    return '<span class="st s' + Math.floor(st / 100) + '">' + st + '</span>';
  }
  function rowHtml(r, i) {
    var top = 'top:' + (i * ROW) + 'px';
    if (r < 0) {
      var ci = -1 - r;
      if (ci >= C.length) {
        var cid = ci - C.length;
        return '<div class="row conn" data-r="' + i + '" style="' + top + '"><div class="lbl">#' + cid + '</div><div class="dur"></div><div class="trk"></div></div>';
      }
      var c = C[ci], txs = txOfConn.get(c[0]) || [];
      var d = [str(c[7]) || 'no payload', txs.length + ' tx'];
      if (c[5] >= 0) d.push('RTT ' + fmtUs(c[5]));
      if (c[9] + c[10] > 0) d.push((c[9] + c[10]) + ' retx');
      var life = '';
      var la = Math.max(c[3], view[0]), lb = Math.min(c[4], view[1]);
      if (lb >= la) life += '<span class="life" style="left:' + xp(la).toFixed(4) + '%;width:' + Math.max(0, xp(lb) - xp(la)).toFixed(4) + '%"></span>';
      if (c[12] >= 0 && c[14] >= 0) {
        var ha = Math.max(c[12], view[0]), hb = Math.min(c[14], view[1]);
        if (hb >= ha) life += '<span class="hs" title="handshake" style="left:' + xp(ha).toFixed(4) + '%;width:' + Math.max(0, xp(hb) - xp(ha)).toFixed(4) + '%"></span>';
      }
      return '<div class="row conn' + (c[0] === selConn ? ' sel' : '') + '" data-r="' + i + '" style="' + top + '"><div class="lbl" title="' +
        esc(connLabel(c)) + '">' + esc(connLabel(c)) + '<span class="d">' + esc(d.join(' · ')) + '</span></div><div class="dur">' +
        fmtUs(c[4] - c[3]) + '</div><div class="trk">' + life + '</div></div>';
    }
    var t = T[r];
    var label = (order === 'conn' ? '' : '<span class="cn">#' + t[1] + '</span>') + statusHtml(t[6]) +
      (str(t[3]) ? '<span class="m">' + esc(str(t[3])) + '</span>' : '') + esc(str(t[4]) || '(response without request)') +
      (str(t[12]) ? '<span class="inc">' + esc(str(t[12]).replace(/_/g, ' ')) + '</span>' : '');
    return '<div class="row tx' + (order === 'conn' ? '' : ' flat') + (r === selTx ? ' sel' : '') + '" data-r="' + i + '" style="' + top +
      '"><div class="lbl">' + label + '</div><div class="dur">' + fmtUs(t[8]) + '</div><div class="trk">' + barHtml(r) + '</div></div>';
  }
  var gridHtml = '';
  function drawAxis() {
    var w = axis.clientWidth || 800;
    var tk = ticks(view[0], view[1], Math.max(2, Math.floor(w / 95)));
    var h = '', g = '';
    tk.values.forEach(function (v) {
      var x = xp(v).toFixed(3);
      // A label too close to the right edge would be cut: grid line only.
      h += '<span class="tk" style="left:' + x + '%">' + (xp(v) / 100 * w < w - 64 ? fmtTick(v, tk.step, view[1]) : '') + '</span>';
      g += '<i style="left:' + x + '%"></i>';
    });
    axis.innerHTML = h;
    gridHtml = '<div class="wf-grid">' + g + '</div>';
  }
  function renderRange(a, b) {
    a = Math.max(0, a);
    b = Math.min(rows.length, b);
    var h = [gridHtml];
    for (var i = a; i < b; i++) {
      h.push(rowHtml(rows[i], i));
      var r = rows[i];
      if (r >= 0) {
        var t = T[r];
        if (t[7] + t[8] >= view[0] && t[7] <= view[1]) barsSeen.add(r);
      }
    }
    inner.innerHTML = h.join('');
    body.dataset.bars = String(barsSeen.size);
  }
  function renderVisible() {
    var first = Math.floor(scroller.scrollTop / ROW) - 10;
    renderRange(first, first + Math.ceil((scroller.clientHeight || 560) / ROW) + 20);
  }
  var pending = false;
  scroller.addEventListener('scroll', function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; renderVisible(); });
  });
  function refreshWaterfall() { drawAxis(); renderVisible(); }
  function setView(v) {
    view = v;
    $('wf-reset').disabled = v[0] === full[0] && v[1] === full[1];
    refreshWaterfall();
  }
  $('wf-filter').addEventListener('input', function () { buildRows(); renderVisible(); });
  $('wf-order').addEventListener('change', function () { order = this.value; buildRows(); scroller.scrollTop = 0; renderVisible(); });
  $('wf-reset').addEventListener('click', function () { setView(full.slice()); });
  $('wf-zoomsel').addEventListener('click', function () {
    var txs = txOfConn.get(selConn) || [], ci = connIdx.get(selConn);
    var a = Infinity, b = -Infinity;
    if (ci !== undefined) { a = C[ci][3]; b = C[ci][4]; }
    txs.forEach(function (ti) { a = Math.min(a, T[ti][7]); b = Math.max(b, T[ti][7] + T[ti][8]); });
    if (!(b > a)) return;
    var pad = (b - a) * 0.03 + 100;
    setView([a - pad, b + pad]);
  });
  brush(axis, function () { return view; }, function (a, b) {
    if (b - a >= 1) setView([a, b]);
  }, function () { setView(full.slice()); }, 0, 0);

  // Drag-to-zoom on a horizontal time scale: `get` gives the current range,
  // `left`/`right` are the plot margins in pixels.
  function brush(el, get, zoom, reset, left, right) {
    var start = null, box = null;
    function tAt(x) {
      var r = el.getBoundingClientRect(), v = get();
      var f = (x - r.left - left) / Math.max(1, r.width - left - right);
      return v[0] + Math.max(0, Math.min(1, f)) * (v[1] - v[0]);
    }
    el.addEventListener('mousedown', function (e) {
      if (e.button !== 0) return;
      start = e.clientX;
      box = document.createElement('div');
      box.className = 'brush';
      el.appendChild(box);
      e.preventDefault();
    });
    window.addEventListener('mousemove', function (e) {
      if (start === null) return;
      var r = el.getBoundingClientRect();
      var a = Math.max(r.left + left, Math.min(start, e.clientX)), b = Math.min(r.right - right, Math.max(start, e.clientX));
      box.style.left = (a - r.left) + 'px';
      box.style.width = Math.max(0, b - a) + 'px';
    });
    window.addEventListener('mouseup', function (e) {
      if (start === null) return;
      var s = start;
      start = null;
      if (box && box.parentNode) box.parentNode.removeChild(box);
      if (Math.abs(e.clientX - s) > 4) zoom(tAt(Math.min(s, e.clientX)), tAt(Math.max(s, e.clientX)));
    });
    el.addEventListener('dblclick', reset);
  }

  inner.addEventListener('mousemove', function (e) {
    var row = e.target.closest ? e.target.closest('.row') : null;
    if (!row) { hideTip(); return; }
    var r = rows[+row.dataset.r];
    if (r === undefined) { hideTip(); return; }
    if (r >= 0) showTip(txTip(r), e.clientX, e.clientY);
    else if (-1 - r < C.length) showTip(connTip(-1 - r), e.clientX, e.clientY);
    else hideTip();
  });
  inner.addEventListener('mouseleave', hideTip);
  // Keyboard: with the waterfall focused, arrows move between requests.
  scroller.addEventListener('keydown', function (e) {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    var at = rows.indexOf(selTx), dir = e.key === 'ArrowDown' ? 1 : -1;
    for (var i = at + dir; i >= 0 && i < rows.length; i += dir) {
      if (rows[i] < 0) continue;
      e.preventDefault();
      selectConn(T[rows[i]][1], rows[i], false);
      var y = i * ROW;
      if (y < scroller.scrollTop || y + ROW > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = y - scroller.clientHeight / 2;
      renderVisible();
      return;
    }
  });
  inner.addEventListener('click', function (e) {
    var row = e.target.closest ? e.target.closest('.row') : null;
    if (!row) return;
    var r = rows[+row.dataset.r];
    if (r === undefined) return;
    if (r >= 0) selectConn(T[r][1], r, true);
    else if (-1 - r < C.length) selectConn(C[-1 - r][0], -1, true);
  });
  function connTip(ci) {
    var c = C[ci];
    return '<h3>' + esc(connLabel(c)) + '</h3><div class="sub">' + esc(str(c[7]) || 'no payload') + ' · ' +
      (txOfConn.get(c[0]) || []).length + ' transactions · ' + esc(str(c[8])) + '</div><div>Open ' +
      fmtAt(c[3]) + ' for ' + fmtUs(c[4] - c[3]) + (c[5] >= 0 ? ' · handshake RTT ' + fmtUs(c[5]) : '') + '</div>' +
      '<div class="sub" style="margin-top:4px">Click for its time–sequence graph.</div>';
  }
  // Scrolls the waterfall so transaction `ti` is on screen (clearing a
  // filter that hides it).
  function revealTx(ti) {
    var at = rows.indexOf(ti);
    if (at < 0) {
      $('wf-filter').value = '';
      buildRows();
      at = rows.indexOf(ti);
    }
    if (at >= 0) scroller.scrollTop = Math.max(0, at * ROW - scroller.clientHeight / 2);
    renderVisible();
  }

  // ------------------------------------------------------------ connection panel
  var sel = $('conn-select');
  (function () {
    var h = [];
    C.forEach(function (c) {
      var n = (txOfConn.get(c[0]) || []).length;
      h.push('<option value="' + c[0] + '">' + esc(connLabel(c) + ' · ' + (str(c[7]) || 'no payload') + ' · ' + n + ' tx') + '</option>');
    });
    sel.innerHTML = h.join('');
  })();
  sel.addEventListener('change', function () { selectConn(+sel.value, -1, false); });
  var dirSide = 1, tsgView = null;
  $('dir-1').addEventListener('click', function () { setDir(1); });
  $('dir-0').addEventListener('click', function () { setDir(0); });
  $('tsg-reset').addEventListener('click', function () { tsgView = null; drawTsg(); });
  function setDir(s) {
    dirSide = s;
    $('dir-1').classList.toggle('on', s === 1);
    $('dir-0').classList.toggle('on', s === 0);
    drawTsg();
  }

  function selectConn(cid, ti, scroll) {
    var changed = cid !== selConn;
    selConn = cid;
    selTx = ti;
    if (changed) {
      tsgView = null;
      // Show the direction that carried data: the response side unless
      // only the client sent anything.
      var ci = connIdx.get(cid);
      if (ci !== undefined) {
        var side = C[ci][16] > 0 || C[ci][15] === 0 ? 1 : 0;
        dirSide = side;
        $('dir-1').classList.toggle('on', side === 1);
        $('dir-0').classList.toggle('on', side === 0);
      }
    }
    sel.value = String(cid);
    renderFacts();
    drawTsg();
    renderConnFindings();
    renderVisible();
    if (scroll) {
      var p = $('connection'), r = p.getBoundingClientRect();
      if (r.top > window.innerHeight - 120 || r.bottom < 0) p.scrollIntoView({ block: 'start' });
    }
  }
  function renderFacts() {
    var ci = connIdx.get(selConn), el = $('conn-facts');
    if (ci === undefined) { el.innerHTML = ''; return; }
    var c = C[ci], o = c[20], zw = c[21];
    var f = [
      ['Client', str(c[1])], ['Server', str(c[2])], ['Protocol', str(c[7]) || 'no payload'],
      ['Roles', str(c[19])], ['Vantage', (str(c[6]) || '').replace(/_/g, ' ')],
      ['Handshake RTT', c[5] >= 0 ? fmtUs(c[5]) : 'not captured'],
      ['Open', fmtAt(c[3]) + ' for ' + fmtUs(c[4] - c[3])],
      ['Packets c/s', group(c[17]) + ' / ' + group(c[18])],
      ['Bytes c/s', fmtBytes(c[15]) + ' / ' + fmtBytes(c[16])],
      ['Retransmissions c/s', c[9] + ' / ' + c[10]],
      ['MSS c/s', (o[0] >= 0 ? o[0] : '?') + ' / ' + (o[1] >= 0 ? o[1] : '?')],
      ['Window scale c/s', (o[2] >= 0 ? o[2] : '—') + ' / ' + (o[3] >= 0 ? o[3] : '—')],
      ['Zero windows c/s', zw[0] + ' / ' + zw[1]],
      ['Close', str(c[8])], ['Transactions', String(c[11])]
    ];
    el.innerHTML = f.map(function (x) { return '<div><span>' + esc(x[0]) + '</span>' + esc(x[1]) + '</div>'; }).join('');
  }

  // Decoded points per connection, cached: the flat array is delta-coded.
  var decodedCache = new Map();
  function decoded(g) {
    var d = decodedCache.get(g[0]);
    if (d) return d;
    var p = g[2], n = Math.floor(p.length / 7);
    d = { n: n, t: new Float64Array(n), side: new Uint8Array(n), kind: new Array(n), seq: new Float64Array(n),
      len: new Float64Array(n), ack: new Float64Array(n), win: new Float64Array(n), frame: new Float64Array(n) };
    var t = 0, f = 0;
    for (var i = 0, k = 0; i < n; i++, k += 7) {
      t += p[k];
      f += p[k + 6];
      var sk = p[k + 1], side = sk % 2;
      d.t[i] = t;
      d.side[i] = side;
      d.kind[i] = S[(sk - side) / 2] || '?';
      d.seq[i] = p[k + 2];
      d.len[i] = p[k + 3];
      d.ack[i] = p[k + 4];
      d.win[i] = p[k + 5];
      d.frame[i] = f;
    }
    decodedCache.set(g[0], d);
    return d;
  }
  function kindClass(k) {
    if (k === 'new') return 'data';
    if (k.indexOf('retransmission') >= 0) return 'retx';
    return 'ooo';
  }
  var targets = null, plot = null;
  function drawTsg() {
    var box = $('tsg'), note = $('tsg-note');
    targets = null;
    plot = null;
    var g = graphOf.get(selConn);
    $('tsg-reset').disabled = !tsgView;
    if (!g) {
      box.innerHTML = '<p class="empty">' + (selConn < 0 ? 'No connection selected.' :
        'No segments were recorded for this connection' + (X.graphs ? ' (left out to keep the file small: open the capture in Wireshark for this one).' : '.')) + '</p>';
      note.textContent = '';
      return;
    }
    var d = decoded(g), ds = dirSide, os = 1 - ds;
    var W = box.clientWidth || 1200, H = box.clientHeight || 440;
    var txs = txOfConn.get(selConn) || [], fs = findingsOf.get(selConn) || [];
    var x0, x1;
    if (tsgView) { x0 = tsgView[0]; x1 = tsgView[1]; } else {
      x0 = Infinity; x1 = -Infinity;
      for (var i = 0; i < d.n; i++) { x0 = Math.min(x0, d.t[i]); x1 = Math.max(x1, d.t[i]); }
      txs.forEach(function (ti) { x0 = Math.min(x0, T[ti][7]); x1 = Math.max(x1, T[ti][7] + T[ti][8]); });
      var pad = Math.max(200, (x1 - x0) * 0.02);
      x0 -= pad; x1 += pad;
    }
    // Lanes above the plot: findings and requests, packed so overlapping
    // ones (pipelined requests, nested findings) stay visible side by side.
    var M = { l: 78, r: 18, t: 8, b: 30 }, pw = W - M.l - M.r;
    var X_ = function (t) { return M.l + (t - x0) / (x1 - x0) * pw; };
    var r1 = function (v) { return Math.round(v * 10) / 10; };
    function span(a, b) { var xa = X_(a), xb = X_(b); if (xb - xa < 2) { xb = xa + 2; } return [r1(xa), r1(xb - xa)]; }
    function pack(items, max) {
      items.sort(function (p, q) { return p.x - q.x || p.w - q.w; });
      var ends = [];
      items.forEach(function (it) {
        var l = 0;
        while (l < ends.length && ends[l] > it.x) l++;
        if (l >= max) { l = 0; for (var k = 1; k < ends.length; k++) if (ends[k] < ends[l]) l = k; }
        ends[l] = Math.max(ends[l] || -Infinity, it.x + it.w + 1);
        it.lane = l;
      });
      return Math.max(1, ends.length);
    }
    var fItems = [], tItems = [];
    fs.forEach(function (fi) {
      var f = F[fi];
      if (f[4] <= 0 || f[3] + f[4] < x0 || f[3] > x1) return;
      var sp = span(f[3], f[3] + f[4]);
      fItems.push({ x: sp[0], w: sp[1], i: fi });
    });
    txs.forEach(function (ti) {
      var t = T[ti];
      if (t[7] + t[8] < x0 || t[7] > x1) return;
      var sp = span(t[7], t[7] + t[8]);
      tItems.push({ x: sp[0], w: sp[1], i: ti });
    });
    var sItems = [];
    g[3].forEach(function (x, k) {
      if (x[0] !== ds || x[1] + x[2] < x0 || x[1] > x1) return;
      var sp = span(x[1], x[1] + x[2]);
      sItems.push({ x: sp[0], w: sp[1], i: k });
    });
    var laneH = 10, gap = 3, fl = pack(fItems, 4), tl = pack(tItems, 4);
    var fTop = M.t, tTop = fTop + fl * (laneH + gap) + 4, sTop = tTop + tl * (laneH + gap) + 4;
    var top = sTop + laneH + 8, ph = H - top - M.b;
    var y0 = Infinity, y1 = -Infinity, dataN = 0;
    for (i = 0; i < d.n; i++) {
      if (d.t[i] < x0 || d.t[i] > x1) continue;
      if (d.side[i] === ds && d.len[i] > 0) { y0 = Math.min(y0, d.seq[i]); y1 = Math.max(y1, d.seq[i] + d.len[i]); dataN++; }
      else if (d.side[i] === os && d.ack[i] >= 0) { y0 = Math.min(y0, d.ack[i]); y1 = Math.max(y1, d.ack[i]); }
    }
    if (!(y1 > y0)) { if (y0 === Infinity) { y0 = 0; y1 = 1000; } else { y1 = y0 + 1000; } }
    var yp = (y1 - y0) * 0.04;
    y0 = Math.max(0, y0 - yp); y1 += yp;
    var Y_ = function (s) { return top + ph - (s - y0) / (y1 - y0) * ph; };
    var s = ['<svg viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="Time–sequence graph of connection ' + selConn + '">',
      '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">',
      '<rect width="6" height="6" fill="#f6f7f9"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b9c2cf" stroke-width="2.5"/></pattern>',
      '<clipPath id="pc"><rect x="' + M.l + '" y="' + top + '" width="' + pw + '" height="' + ph + '"/></clipPath>',
      '<clipPath id="lc"><rect x="' + (M.l - 2) + '" y="0" width="' + (pw + 4) + '" height="' + top + '"/></clipPath></defs>'];
    // Grid and axes.
    var xt = ticks(x0, x1, Math.max(2, Math.floor(pw / 110)));
    var yu = byteUnit(y1), yt = ticks(y0, y1, Math.max(2, Math.floor(ph / 50)));
    xt.values.forEach(function (v) {
      var x = r1(X_(v));
      s.push('<line class="grid" x1="' + x + '" x2="' + x + '" y1="' + top + '" y2="' + (top + ph) + '"/>');
      s.push('<text x="' + x + '" y="' + (top + ph + 18) + '" text-anchor="middle">' + fmtTick(v, xt.step, x1) + '</text>');
    });
    yt.values.forEach(function (v) {
      var y = r1(Y_(v));
      s.push('<line class="grid" x1="' + M.l + '" x2="' + (M.l + pw) + '" y1="' + y + '" y2="' + y + '"/>');
      s.push('<text x="' + (M.l - 6) + '" y="' + (y + 4) + '" text-anchor="end">' + (v / yu[0]).toFixed(decimals(yt.step / yu[0])) + yu[1] + '</text>');
    });
    s.push('<line class="axis" x1="' + M.l + '" x2="' + M.l + '" y1="' + top + '" y2="' + (top + ph) + '"/>');
    s.push('<line class="axis" x1="' + M.l + '" x2="' + (M.l + pw) + '" y1="' + (top + ph) + '" y2="' + (top + ph) + '"/>');
    s.push('<text class="lane-l" x="' + (M.l - 6) + '" y="' + (fTop + 9) + '" text-anchor="end">findings</text>');
    s.push('<text class="lane-l" x="' + (M.l - 6) + '" y="' + (tTop + 9) + '" text-anchor="end">requests</text>');
    s.push('<text class="lane-l" x="' + (M.l - 6) + '" y="' + (sTop + 9) + '" text-anchor="end">stalls</text>');
    var bands = [], lane = ['<g clip-path="url(#lc)">'];
    // The chosen request's span, when the connection carries several.
    if (selTx >= 0 && T[selTx] && T[selTx][1] === selConn && txs.length > 1) {
      var st = span(T[selTx][7], T[selTx][7] + T[selTx][8]);
      bands.push('<rect class="hl" x="' + st[0] + '" y="' + top + '" width="' + st[1] + '" height="' + ph + '"/>');
    }
    fItems.forEach(function (it) {
      var f = F[it.i], cls = f[10] >= 0 ? 'f' + f[10] : 'fx';
      lane.push('<rect class="flane ' + cls + '" data-f="' + it.i + '" x="' + it.x + '" y="' + (fTop + it.lane * (laneH + gap)) + '" width="' + it.w + '" height="' + laneH + '" rx="2"/>');
    });
    tItems.forEach(function (it) {
      var t = T[it.i], y = tTop + it.lane * (laneH + gap);
      lane.push('<rect class="txlane f' + t[10] + '" data-t="' + it.i + '" x="' + it.x + '" y="' + y + '" width="' + it.w + '" height="' + laneH + '" rx="2"/>');
      if (it.i === selTx) lane.push('<rect class="txsel" x="' + (it.x - 1.5) + '" y="' + (y - 1.5) + '" width="' + (it.w + 3) + '" height="' + (laneH + 3) + '" rx="2"/>');
    });
    sItems.forEach(function (it) {
      lane.push('<rect class="stall" data-s="' + it.i + '" x="' + it.x + '" y="' + sTop + '" width="' + it.w + '" height="' + laneH + '"/>');
    });
    lane.push('</g>');
    var stl = g[3].filter(function (x) { return x[0] === ds; });
    s.push('<g clip-path="url(#pc)">' + bands.join(''));
    // ACK and window lines: the receiver's view, drawn as steps.
    var ack = '', win = '', lastX = null;
    targets = [];
    for (i = 0; i < d.n; i++) {
      if (d.side[i] !== os || d.ack[i] < 0) continue;
      var x = r1(X_(d.t[i])), ya = r1(Y_(d.ack[i])), yw = r1(Y_(d.ack[i] + d.win[i]));
      if (lastX === null) { ack = 'M' + x + ' ' + ya; win = 'M' + x + ' ' + yw; } else { ack += 'H' + x + 'V' + ya; win += 'H' + x + 'V' + yw; }
      lastX = x;
      if (d.t[i] >= x0 && d.t[i] <= x1) targets.push([x, ya, i]);
    }
    if (lastX !== null) { ack += 'H' + r1(M.l + pw); win += 'H' + r1(M.l + pw); }
    var paths = { data: '', retx: '', ooo: '' }, marks = '';
    for (i = 0; i < d.n; i++) {
      if (d.side[i] !== ds || d.len[i] <= 0 || d.t[i] < x0 || d.t[i] > x1) continue;
      var cx = r1(X_(d.t[i])), ys = Y_(d.seq[i]), ye = Y_(d.seq[i] + d.len[i]);
      if (ys - ye < 2) ye = ys - 2;
      var kc = kindClass(d.kind[i]);
      paths[kc] += 'M' + cx + ' ' + r1(ys) + 'V' + r1(ye);
      if (kc === 'retx') marks += '<circle class="retxm" cx="' + cx + '" cy="' + r1(ye) + '" r="4"/>';
      targets.push([cx, r1((ys + ye) / 2), i]);
    }
    if (win) s.push('<path class="win" d="' + win + '"/>');
    if (ack) s.push('<path class="ack" d="' + ack + '"/>');
    s.push('<path class="data" d="' + (paths.data || 'M0 0') + '"/><path class="ooo" d="' + (paths.ooo || 'M0 0') + '"/><path class="retx" d="' + (paths.retx || 'M0 0') + '"/>' + marks);
    s.push('</g>');
    s.push(lane.join(''));
    if (!dataN) s.push('<text x="' + (M.l + pw / 2) + '" y="' + (top + ph / 2) + '" text-anchor="middle">no ' + (ds ? 'server → client' : 'client → server') + ' data in this range</text>');
    s.push('</svg>');
    box.innerHTML = s.join('');
    plot = { x0: x0, x1: x1, l: M.l, pw: pw, top: top, ph: ph, d: d, g: g };
    var n = [];
    n.push(group(g[1]) + ' segments recorded' + (d.n < g[1] ? ', ' + group(d.n) + ' drawn (sampled evenly; every retransmission and reordering kept while they fit)' : '') + '.');
    n.push('Y: bytes of the ' + (ds ? 'server' : 'client') + '\'s stream; the green step line is the ' + (ds ? 'client' : 'server') + '\'s cumulative ACK and the dashed line the ACK plus its advertised window.');
    if (stl.length) n.push(stl.length + ' stall' + (stl.length > 1 ? 's' : '') + ' in this direction (gaps inside a message longer than max(RTT/4, 2 ms)).');
    note.textContent = n.join(' ');
  }
  var tsgBox = $('tsg');
  brush(tsgBox, function () { return plot ? [plot.x0, plot.x1] : [0, 1]; }, function (a, b) {
    if (!plot || b - a < 1) return;
    tsgView = [a, b];
    drawTsg();
  }, function () { tsgView = null; drawTsg(); }, 78, 18);
  tsgBox.addEventListener('mousemove', function (e) {
    if (!plot) return;
    var el = e.target, ds = el && el.dataset ? el.dataset : {};
    if (ds.f !== undefined) { showTip(findingTip(+ds.f), e.clientX, e.clientY); return; }
    if (ds.t !== undefined) { showTip(txTip(+ds.t), e.clientX, e.clientY); return; }
    if (ds.s !== undefined) { showTip(stallTip(plot.g[3][+ds.s]), e.clientX, e.clientY); return; }
    var svg = tsgBox.querySelector('svg');
    if (!svg || !targets) { hideTip(); return; }
    var r = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
    var mx = (e.clientX - r.left) * vb.width / r.width, my = (e.clientY - r.top) * vb.height / r.height;
    var best = -1, bd = 100;
    for (var k = 0; k < targets.length; k++) {
      var dx = targets[k][0] - mx, dy = targets[k][1] - my, dd = dx * dx + dy * dy;
      if (dd < bd) { bd = dd; best = k; }
    }
    if (best >= 0) { showTip(pointTip(targets[best][2]), e.clientX, e.clientY); return; }
    hideTip();
  });
  tsgBox.addEventListener('mouseleave', hideTip);
  function pointTip(i) {
    var d = plot.d, side = d.side[i] ? 'server → client' : 'client → server';
    var h = '<h3>Frame ' + group(d.frame[i]) + '</h3><div class="sub">' + fmtAt(d.t[i]) + ' · ' + side + ' · ' + esc(d.kind[i].replace(/_/g, ' ')) + '</div>';
    if (d.len[i] > 0) h += '<div>Data ' + group(d.seq[i]) + '–' + group(d.seq[i] + d.len[i]) + ' (' + group(d.len[i]) + ' bytes)</div>';
    if (d.ack[i] >= 0) h += '<div>ACK ' + group(d.ack[i]) + ' · window ' + fmtBytes(d.win[i]) + '</div>';
    return h;
  }
  function stallTip(x) {
    return '<h3>Stall of ' + fmtUs(x[2]) + '</h3><div class="sub">' + (x[0] ? 'server → client' : 'client → server') + ' · from ' + fmtAt(x[1]) +
      '</div><div>No data between frames ' + x[3] + ' and ' + x[4] + '. The findings lane says what explains it.</div>';
  }
  function findingTip(fi) {
    var f = F[fi], d = str(f[6]), rec = str(f[9]);
    return '<h3>' + sw(f[10]) + esc(str(f[0])) + '</h3><div class="sub">' + fmtUs(f[4]) + ' from ' + fmtAt(f[3]) + ' · ' + esc(str(f[7])) +
      ' confidence · frames ' + esc(framesText(f[5])) + '</div>' + (d ? '<div>' + esc(d) + '</div>' : '') +
      (rec ? '<div style="color:#1b5e20;margin-top:4px">→ ' + esc(rec) + '</div>' : '');
  }

  // ------------------------------------------------------------ findings tables
  function findingsTable(list, limit) {
    if (!list.length) return '<p class="empty">No findings.</p>';
    var h = ['<table class="list"><thead><tr><th>Finding</th><th class="num">At</th><th class="num">Duration</th><th>Where</th><th>Frames</th><th>Confidence</th><th>Evidence</th></tr></thead><tbody>'];
    list.slice(0, limit).forEach(function (fi) {
      var f = F[fi], d = str(f[6]), rec = str(f[9]), wh = [];
      if (f[1] >= 0) wh.push('<a href="#connection" data-conn="' + f[1] + '">conn ' + f[1] + '</a>');
      if (f[2] >= 0) wh.push('<a href="#waterfall" data-tx="' + f[2] + '">tx ' + f[2] + '</a>');
      h.push('<tr><td class="kind">' + sw(f[10]) + '<code>' + esc(str(f[0])) + '</code></td><td class="num">' + fmtAt(f[3]) + '</td><td class="num">' +
        fmtUs(f[4]) + '</td><td class="nowrap">' + (wh.join(' · ') || '—') + '</td><td class="frames">' + esc(framesText(f[5])) + '</td><td>' +
        esc(str(f[7])) + '</td><td class="d">' + (d ? esc(d) : '<span class="note">detail left out to keep the file small</span>') +
        (rec ? '<div class="rec">→ ' + esc(rec) + '</div>' : '') + '</td></tr>');
    });
    h.push('</tbody></table>');
    return h.join('');
  }
  function renderConnFindings() {
    var fs = findingsOf.get(selConn) || [];
    $('conn-findings').innerHTML = '<h3>Findings on this connection (' + fs.length + ')</h3>' + findingsTable(fs, 200) +
      (fs.length > 200 ? '<p class="note">First 200 shown; the full list is below.</p>' : '');
  }
  var fLimit = 200;
  (function () {
    var counts = new Map();
    F.forEach(function (f) { var k = str(f[0]); counts.set(k, (counts.get(k) || 0) + 1); });
    var opts = Array.from(counts.keys()).sort().map(function (k) { return '<option value="' + esc(k) + '">' + esc(k) + ' (' + counts.get(k) + ')</option>'; });
    $('f-kind').insertAdjacentHTML('beforeend', opts.join(''));
  })();
  function renderFindings() {
    var kind = $('f-kind').value, q = $('f-filter').value.toLowerCase();
    var list = [];
    for (var i = 0; i < F.length; i++) {
      var f = F[i];
      if (kind && str(f[0]) !== kind) continue;
      if (q && ([str(f[0]), str(f[6]), str(f[9]), f[5].join(' '), 'conn ' + f[1], 'tx ' + f[2]].join(' ').toLowerCase().indexOf(q) < 0)) continue;
      list.push(i);
    }
    var h = findingsTable(list, fLimit);
    if (list.length > fLimit) h += '<div class="more"><button type="button" id="f-more">Show ' + Math.min(500, list.length - fLimit) + ' more of ' + group(list.length - fLimit) + '</button></div>';
    if (X.details) h += '<p class="note">' + group(X.details) + ' finding details were left out to keep the file small (the shortest findings first); the JSON report has them all.</p>';
    $('f-list').innerHTML = h;
    var more = $('f-more');
    if (more) more.addEventListener('click', function () { fLimit += 500; renderFindings(); });
  }
  $('f-kind').addEventListener('change', function () { fLimit = 200; renderFindings(); });
  $('f-filter').addEventListener('input', function () { fLimit = 200; renderFindings(); });

  // Links in the static and drawn tables select what they name.
  document.addEventListener('click', function (e) {
    var a = e.target.closest ? e.target.closest('a[data-tx], a[data-conn]') : null;
    if (!a) return;
    if (a.dataset.tx !== undefined) {
      var ti = txIndexById(+a.dataset.tx);
      if (ti >= 0) { selectConn(T[ti][1], ti, false); revealTx(ti); }
    } else {
      selectConn(+a.dataset.conn, -1, false);
    }
  });
  var resizeTimer = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { refreshWaterfall(); drawTsg(); }, 100);
  });

  // ------------------------------------------------------------ start
  if (!T.length) { $('wf').hidden = true; }
  buildRows();
  drawAxis();
  var first = -1;
  T.forEach(function (t, i) { if (first < 0 || t[8] > T[first][8]) first = i; });
  if (first >= 0) selectConn(T[first][1], first, false);
  else if (G.length) selectConn(G[0][0], -1, false);
  else if (C.length) selectConn(C[0][0], -1, false);
  else { drawTsg(); renderVisible(); }
  renderFindings();

  // `?selftest` (used by scripts/html-browser-test.sh): render every row
  // once, draw graphs, and report problems into #errors.
  if (/[?&]selftest\b/.test(location.search)) {
    var problems = [];
    var keepTop = scroller.scrollTop, keepConn = selConn, keepTx = selTx;
    for (var a = 0; a < rows.length; a += 100) renderRange(a, a + 100);
    var drawn = inner.querySelectorAll('.bar').length;
    if (barsSeen.size !== T.length) problems.push('waterfall drew ' + barsSeen.size + ' bars for ' + T.length + ' transactions');
    if (rows.length && !drawn) problems.push('no bar elements in the last rendered rows');
    G.slice(0, 25).forEach(function (g) {
      selectConn(g[0], -1, false);
      if (!$('tsg').querySelector('svg path.data')) problems.push('no time–sequence graph for connection ' + g[0]);
      // The other direction, a zoom, and every kind of tooltip.
      setDir(0);
      setDir(1);
      if (plot) { tsgView = [plot.x0, (plot.x0 + plot.x1) / 2]; drawTsg(); tsgView = null; drawTsg(); }
      if (targets && targets.length) showTip(pointTip(targets[targets.length >> 1][2]), 10, 10);
      g[3].slice(0, 3).forEach(function (x) { showTip(stallTip(x), 10, 10); });
      (findingsOf.get(g[0]) || []).slice(0, 5).forEach(function (fi) { showTip(findingTip(fi), 10, 10); });
      hideTip();
    });
    T.slice(0, 50).forEach(function (t, i) { showTip(txTip(i), 10, 10); });
    C.slice(0, 50).forEach(function (c, i) { showTip(connTip(i), 10, 10); });
    hideTip();
    // Filters, orders and zoom go through the same drawing code.
    ['status:200', 'cause:server', '>10ms', 'conn:0', 'get /'].forEach(function (q) {
      $('wf-filter').value = q;
      buildRows();
      renderVisible();
    });
    $('wf-filter').value = '';
    ['slow', 'start', 'conn'].forEach(function (o) { order = o; buildRows(); renderVisible(); });
    setView([full[0], (full[0] + full[1]) / 2]);
    setView(full.slice());
    $('f-kind').selectedIndex = $('f-kind').options.length - 1;
    renderFindings();
    $('f-kind').selectedIndex = 0;
    renderFindings();
    if (keepConn >= 0) selectConn(keepConn, keepTx, false);
    scroller.scrollTop = keepTop;
    renderVisible();
    problems.forEach(function (p) { window.wbError(p); });
    body.dataset.selftest = problems.length ? 'failed' : 'ok';
  }
  body.dataset.ready = '1';
})();
