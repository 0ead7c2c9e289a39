// The attention explorer: pick a sample and a layer, click a query position, see where that
// layer's attention looks. Data: #report-data's "explorer" (see nlgan/report/attention.py).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent).explorer;
  const canvas = document.getElementById("attn-canvas");
  const state = { ready: false, sample: 0, layer: 0, row: null, col: null, values: null };
  window.nlganExplorer = state;
  if (!canvas || !data.layers.length) { state.ready = true; return; }
  const ctx = canvas.getContext("2d");
  // Colour ramp from dark (little weight) to bright yellow (most), as `nlgan attention` draws.
  const RAMP = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
  const layers = data.layers.map(function (layer) {
    const raw = atob(layer.data);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return Object.assign({}, layer, { bytes: bytes });
  });
  const images = data.samples.map(function (uri) { const im = new Image(); im.src = uri; return im; });

  function colour(v) {
    const pos = (v / 255) * (RAMP.length - 1);
    const i = Math.min(Math.floor(pos), RAMP.length - 2);
    const t = pos - i;
    return RAMP[i].map(function (c, k) { return Math.round(c + t * (RAMP[i + 1][k] - c)); });
  }

  function mapValues() {
    const layer = layers[state.layer];
    const nq = layer.query[0] * layer.query[1];
    const nk = layer.key[0] * layer.key[1];
    const start = (state.sample * nq + state.row * layer.query[1] + state.col) * nk;
    return Array.from(layer.bytes.subarray(start, start + nk));
  }

  function draw() {
    const size = canvas.width;
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, size, size);
    ctx.drawImage(images[state.sample], 0, 0, size, size);
    const layer = layers[state.layer];
    const info = document.getElementById("attn-info");
    if (state.row === null) {
      state.values = null;
      info.textContent = "Click the image to choose a query position.";
      return;
    }
    const values = mapValues();
    state.values = values;
    const [kh, kw] = layer.key;
    const heat = document.createElement("canvas");
    heat.width = kw; heat.height = kh;
    const pixels = heat.getContext("2d").createImageData(kw, kh);
    values.forEach(function (v, i) {
      const c = colour(v);
      pixels.data.set([c[0], c[1], c[2], 255], 4 * i);
    });
    heat.getContext("2d").putImageData(pixels, 0, 0);
    ctx.globalAlpha = 0.6;
    ctx.imageSmoothingEnabled = true;  // bilinear upsampling of the key grid, as nlgan attention
    ctx.drawImage(heat, 0, 0, size, size);
    ctx.globalAlpha = 1;
    const [qh, qw] = layer.query;
    const x = (state.col + 0.5) * size / qw, y = (state.row + 0.5) * size / qh;
    ctx.strokeStyle = "#00e5ff"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, y, Math.max(4, size / qw / 2), 0, 2 * Math.PI); ctx.stroke();
    canvas.dataset.query = state.row + "," + state.col;
    info.textContent = layer.net + " layer " + (layer.index + 1) + ", query (row " + state.row +
      ", col " + state.col + ") of " + qh + "x" + qw + "; keys " + kh + "x" + kw +
      "; brightest = strongest weight";
  }

  canvas.addEventListener("click", function (event) {
    const rect = canvas.getBoundingClientRect();
    const layer = layers[state.layer];
    const fx = (event.clientX - rect.left) / rect.width;
    const fy = (event.clientY - rect.top) / rect.height;
    state.col = Math.min(Math.max(Math.floor(fx * layer.query[1]), 0), layer.query[1] - 1);
    state.row = Math.min(Math.max(Math.floor(fy * layer.query[0]), 0), layer.query[0] - 1);
    draw();
  });

  const select = document.getElementById("attn-layer");
  layers.forEach(function (layer, i) {
    const option = document.createElement("option");
    option.value = i;
    option.textContent = layer.net + " layer " + (layer.index + 1) + ": " + layer.query[0] + "x" +
      layer.query[1] + " queries, " + layer.key[0] + "x" + layer.key[1] + " keys";
    select.appendChild(option);
  });
  select.addEventListener("change", function () {
    state.layer = Number(select.value);
    state.row = state.col = null;  // positions differ between layers of other sizes
    draw();
  });

  const thumbs = document.getElementById("attn-samples");
  images.forEach(function (im, i) {
    const thumb = document.createElement("img");
    thumb.src = im.src; thumb.className = "pixel" + (i === 0 ? " selected" : "");
    thumb.title = "sample " + i + (data.labels.length ? ", class " + data.labels[i] : "");
    thumb.addEventListener("click", function () {
      state.sample = i;
      thumbs.querySelectorAll("img").forEach(function (t, k) { t.classList.toggle("selected", k === i); });
      draw();
    });
    thumbs.appendChild(thumb);
  });

  Promise.all(images.map(function (im) { return im.decode(); })).then(function () {
    draw();
    state.ready = true;
  });
})();
