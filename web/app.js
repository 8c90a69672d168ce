// geoagent local game page: the panorama viewer, the guess map and the round flow.
//
// The page talks only to its own server. Its DOM attributes (body[data-state], canvas#pano
// data-*, #map data-view / data-marker, #result data-*) are a contract with the WebDriver
// controller that lets the agent play: change them only together with src/browser.
// canvas#pano data-kind is "panorama" (360°, every heading shows something) or "photo" (one flat
// photo straight ahead at heading 0, filling the start view; other headings show background).
"use strict";

(function () {
  // ---- Tunables -------------------------------------------------------------------------------
  /** Start of every round: looking north at the horizon with a 90° horizontal field of view. */
  const START_VIEW = { heading: 0, pitch: 0, fov: 90 };
  /** Narrowest and widest horizontal field of view (degrees): beyond these the image is mush. */
  const FOV_MIN = 15;
  const FOV_MAX = 100;
  /** Looking straight up or down is useless and makes the view spin; stop just short. */
  const PITCH_LIMIT = 85;
  const KEY_TURN_DEG = 15;
  const KEY_PITCH_DEG = 10;
  const KEY_ZOOM_FACTOR = 1.5;
  /** A pointer that moves further than this (CSS px) between down and up is a drag, not a click. */
  const CLICK_SLOP_PX = 4;
  /** Guess-map zoom: narrowest visible width in degrees of longitude (~5 km at the equator). */
  const MAP_MIN_WIDTH_DEG = 0.05;
  const MAP_BUTTON_ZOOM = 2;
  /** Wheel delta (px) that zooms the map by a factor of 2. */
  const MAP_WHEEL_PX_PER_DOUBLING = 200;
  /** Wheel delta (px) that zooms the panorama by a factor of 2. */
  const PANO_WHEEL_PX_PER_DOUBLING = 500;
  /** When showing results, keep this margin (fraction of the span) around the points. */
  const FIT_MARGIN = 0.35;
  /** ... and never zoom in closer than this width (degrees) so the area stays recognisable. */
  const FIT_MIN_WIDTH_DEG = 2;
  const PANEL_MIN_WIDTH = 450;
  const PANEL_VW = 0.32;
  /** Height of the controls hint under the panorama. */
  const HELP_LINE_H = 20;
  const GAP = 10;
  const HEADER_H = 40;
  /** A single photo spans the start view's width, so the first view shows all of it. */
  const PHOTO_HFOV_DEG = START_VIEW.fov;
  const SVG_NS = "http://www.w3.org/2000/svg";

  const $ = (sel) => document.querySelector(sel);
  const body = document.body;

  function setState(s) {
    body.dataset.state = s;
    // Hidden elements have no size; overlay positions depend on #map's rect.
    requestAnimationFrame(() => {
      if (guessMap) guessMap.renderOverlay();
    });
  }

  function showError(message) {
    $("#error-message").textContent = message;
    // The page contract: an agent reads the reason from data-error (browser/selectors.rs).
    document.body.dataset.error = message;
    setState("error");
  }

  async function api(method, path, payload) {
    const init = { method, headers: {} };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new Error(`cannot reach the game server (${e.message}); is geoagent still running?`);
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (!resp.ok) {
      const why = data && data.error ? data.error : `${resp.status} ${resp.statusText}`;
      throw new Error(why);
    }
    return data;
  }

  const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
  const fmt2 = (x) => (Math.round(x * 100) / 100).toFixed(2);

  // ---- Panorama viewer (WebGL, equirectangular) -------------------------------------------------
  // The ray through each corner, turned by pitch then heading on the CPU (u_rot): the ray is
  // affine in the pixel position, so the interpolated v_dir is the exact ray of each pixel and
  // the fragment shader does no rotation. SwiftShader runs it on the CPU, where every
  // per-pixel sin/cos costs time on each frame.
  const VERTEX_SRC = `
    attribute vec2 a_pos;
    uniform vec2 u_half;
    uniform mat3 u_rot;
    varying vec3 v_dir;
    void main() {
      v_dir = u_rot * vec3(a_pos.x * u_half.x, a_pos.y * u_half.y, 1.0);
      gl_Position = vec4(a_pos, 0.0, 1.0);
    }`;
  // Ray → longitude/latitude → texture coordinate. Heading h (clockwise from north) looks at
  // u = 0.5 + h/360; pitch p at v = 0.5 - p/180 (v = 0 is the top row).
  const FRAGMENT_SRC = `
    precision highp float;
    uniform sampler2D u_tex;
    uniform float u_flat;
    uniform vec2 u_photo_half;
    varying vec3 v_dir;
    const float PI = 3.14159265358979;
    void main() {
      vec3 d = v_dir;
      if (u_flat > 0.5) {
        // A single photo: a flat picture facing north, hit by the ray (rectilinear projection).
        vec2 uv = vec2(0.5 + d.x / d.z / (2.0 * u_photo_half.x), 0.5 - d.y / d.z / (2.0 * u_photo_half.y));
        bool inside = d.z > 0.0 && uv.x >= 0.0 && uv.x <= 1.0 && uv.y >= 0.0 && uv.y <= 1.0;
        gl_FragColor = inside ? texture2D(u_tex, uv) : vec4(0.19, 0.2, 0.24, 1.0);
        return;
      }
      float lon = atan(d.x, d.z);
      float lat = asin(clamp(d.y / length(d), -1.0, 1.0));
      vec2 uv = vec2(fract(0.5 + lon / (2.0 * PI)), 0.5 - lat / PI);
      gl_FragColor = texture2D(u_tex, uv);
    }`;

  class PanoViewer {
    constructor(canvas) {
      this.canvas = canvas;
      this.view = { ...START_VIEW };
      this.frame = 0;
      this.loaded = false;
      this.loadSerial = 0;
      this.dirty = false;
      const opts = { preserveDrawingBuffer: true, antialias: false, alpha: false };
      const gl = canvas.getContext("webgl2", opts) || canvas.getContext("webgl", opts);
      if (!gl) throw new Error("this browser has no WebGL; the panorama viewer needs it");
      this.gl = gl;
      this.program = this.link(VERTEX_SRC, FRAGMENT_SRC);
      const buf = gl.createBuffer();
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
      const loc = gl.getAttribLocation(this.program, "a_pos");
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
      this.u = {
        tex: gl.getUniformLocation(this.program, "u_tex"),
        half: gl.getUniformLocation(this.program, "u_half"),
        rot: gl.getUniformLocation(this.program, "u_rot"),
        flat: gl.getUniformLocation(this.program, "u_flat"),
        photoHalf: gl.getUniformLocation(this.program, "u_photo_half"),
      };
      this.kind = "panorama";
      this.photoHalf = [1, 1];
      this.texture = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, this.texture);
      // Clamp + no mipmaps: works for any image size, also in WebGL 1.
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
      this.bindControls();
      this.publish();
    }

    link(vsSrc, fsSrc) {
      const gl = this.gl;
      const compile = (type, src) => {
        const s = gl.createShader(type);
        gl.shaderSource(s, src);
        gl.compileShader(s);
        if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) {
          throw new Error("panorama shader failed to compile: " + gl.getShaderInfoLog(s));
        }
        return s;
      };
      const p = gl.createProgram();
      gl.attachShader(p, compile(gl.VERTEX_SHADER, vsSrc));
      gl.attachShader(p, compile(gl.FRAGMENT_SHADER, fsSrc));
      gl.linkProgram(p);
      if (!gl.getProgramParameter(p, gl.LINK_STATUS)) {
        throw new Error("panorama shader failed to link: " + gl.getProgramInfoLog(p));
      }
      return p;
    }

    /** Vertical field of view (degrees) for the current horizontal one and canvas shape. */
    vfov() {
      const r = this.canvas.clientHeight / Math.max(1, this.canvas.clientWidth);
      const half = Math.tan((this.view.fov * Math.PI) / 360) * r;
      return (Math.atan(half) * 360) / Math.PI;
    }

    /** Sets the view (normalising heading, clamping pitch and fov) and schedules a redraw. */
    setView(heading, pitch, fov) {
      let h = heading % 360;
      if (h < 0) h += 360;
      this.view = {
        heading: h,
        pitch: clamp(pitch, -PITCH_LIMIT, PITCH_LIMIT),
        fov: clamp(fov, FOV_MIN, FOV_MAX),
      };
      this.requestDraw();
    }

    turn(dh, dp) {
      this.setView(this.view.heading + dh, this.view.pitch + dp, this.view.fov);
    }

    zoom(factor) {
      this.setView(this.view.heading, this.view.pitch, this.view.fov / factor);
    }

    /** Resizes the drawing buffer to the canvas's CSS size. */
    resize(cssW, cssH) {
      const dpr = window.devicePixelRatio || 1;
      this.canvas.style.width = cssW + "px";
      this.canvas.style.height = cssH + "px";
      this.canvas.width = Math.round(cssW * dpr);
      this.canvas.height = Math.round(cssH * dpr);
      this.requestDraw();
    }

    requestDraw() {
      if (this.dirty) return;
      this.dirty = true;
      requestAnimationFrame(() => {
        if (this.dirty) this.draw();
      });
    }

    /**
     * Draws a pending view change now instead of at the next animation frame: when a drag ends
     * the view it turned to is on the canvas (and in data-frame) as soon as the input is handled,
     * so whoever drove the pointer need not wait out a frame.
     */
    drawNow() {
      if (this.dirty) this.draw();
    }

    draw() {
      this.dirty = false;
      const gl = this.gl;
      gl.viewport(0, 0, this.canvas.width, this.canvas.height);
      if (!this.loaded) {
        gl.clearColor(0.19, 0.2, 0.24, 1);
        gl.clear(gl.COLOR_BUFFER_BIT);
        this.publish();
        return;
      }
      gl.useProgram(this.program);
      const halfW = Math.tan((this.view.fov * Math.PI) / 360);
      const halfH = halfW * (this.canvas.height / Math.max(1, this.canvas.width));
      gl.uniform2f(this.u.half, halfW, halfH);
      const h = (this.view.heading * Math.PI) / 180, p = (this.view.pitch * Math.PI) / 180;
      const ch = Math.cos(h), sh = Math.sin(h), cp = Math.cos(p), sp = Math.sin(p);
      // Pitch about x, then heading about y; column-major.
      gl.uniformMatrix3fv(this.u.rot, false, [ch, 0, -sh, -sp * sh, cp, -sp * ch, cp * sh, sp, cp * ch]);
      gl.uniform1f(this.u.flat, this.kind === "photo" ? 1 : 0);
      gl.uniform2f(this.u.photoHalf, this.photoHalf[0], this.photoHalf[1]);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindTexture(gl.TEXTURE_2D, this.texture);
      gl.uniform1i(this.u.tex, 0);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
      this.frame += 1;
      this.publish();
    }

    /** Mirrors the drawn state into data-* attributes for the controller. */
    publish() {
      const c = this.canvas;
      let h = fmt2(this.view.heading);
      if (h === "360.00") h = "0.00";
      c.dataset.heading = h;
      c.dataset.pitch = fmt2(this.view.pitch);
      c.dataset.fov = fmt2(this.view.fov);
      c.dataset.frame = String(this.frame);
      c.dataset.ready = this.loaded ? "true" : "false";
      c.dataset.kind = this.kind;
    }

    /**
     * Loads a round's image ("panorama" or "photo"); resolves once it is drawn. Resets the view
     * to the start.
     */
    load(url, kind, decoded) {
      const serial = ++this.loadSerial;
      this.loaded = false;
      this.kind = kind === "photo" ? "photo" : "panorama";
      this.view = { ...START_VIEW };
      this.canvas.dataset.ready = "false";
      this.requestDraw();
      const show = (img) => {
        const gl = this.gl;
        gl.bindTexture(gl.TEXTURE_2D, this.texture);
        gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
        gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGB, gl.RGB, gl.UNSIGNED_BYTE, img);
        const halfW = Math.tan((PHOTO_HFOV_DEG * Math.PI) / 360);
        // An <img> or, when prefetched, an ImageBitmap (which has no natural* sizes).
        const w = img.naturalWidth || img.width, h = img.naturalHeight || img.height;
        this.photoHalf = [halfW, (halfW * h) / Math.max(1, w)];
        this.loaded = true;
        // Drawn at once: the round is playable (data-ready) without waiting for a frame.
        this.dirty = true;
        this.drawNow();
      };
      // An image fetched and decoded while the previous result was shown (see prefetchRound).
      if (decoded) {
        show(decoded);
        return Promise.resolve(true);
      }
      return new Promise((resolve, reject) => {
        const img = new Image();
        img.decoding = "async";
        img.onload = () => {
          if (serial !== this.loadSerial) return resolve(false);
          show(img);
          resolve(true);
        };
        img.onerror = () => {
          if (serial !== this.loadSerial) return resolve(false);
          reject(new Error("the panorama image failed to load"));
        };
        img.src = url;
      });
    }

    bindControls() {
      const c = this.canvas;
      let drag = null;
      c.addEventListener("pointerdown", (e) => {
        if (e.button !== 0) return;
        drag = { x: e.clientX, y: e.clientY, id: e.pointerId };
        c.setPointerCapture(e.pointerId);
        c.classList.add("dragging");
        c.focus({ preventScroll: true });
      });
      c.addEventListener("pointermove", (e) => {
        if (!drag || e.pointerId !== drag.id) return;
        const dx = e.clientX - drag.x;
        const dy = e.clientY - drag.y;
        drag.x = e.clientX;
        drag.y = e.clientY;
        // Grab semantics: the scene follows the pointer.
        const dh = (-dx * this.view.fov) / Math.max(1, c.clientWidth);
        const dp = (dy * this.vfov()) / Math.max(1, c.clientHeight);
        this.turn(dh, dp);
      });
      const end = (e) => {
        if (!drag || e.pointerId !== drag.id) return;
        drag = null;
        c.classList.remove("dragging");
        this.drawNow();
      };
      c.addEventListener("pointerup", end);
      c.addEventListener("pointercancel", end);
      c.addEventListener(
        "wheel",
        (e) => {
          e.preventDefault();
          this.zoom(Math.pow(2, -e.deltaY / PANO_WHEEL_PX_PER_DOUBLING));
        },
        { passive: false },
      );
      document.addEventListener("keydown", (e) => {
        const t = e.target;
        if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
        if (e.ctrlKey || e.metaKey || e.altKey) return;
        switch (e.key) {
          case "ArrowLeft": this.turn(-KEY_TURN_DEG, 0); break;
          case "ArrowRight": this.turn(KEY_TURN_DEG, 0); break;
          case "ArrowUp": this.turn(0, KEY_PITCH_DEG); break;
          case "ArrowDown": this.turn(0, -KEY_PITCH_DEG); break;
          case "+": case "=": this.zoom(KEY_ZOOM_FACTOR); break;
          case "-": this.zoom(1 / KEY_ZOOM_FACTOR); break;
          default: return;
        }
        e.preventDefault();
      });
    }
  }

  // ---- Guess map (SVG, plate carrée) ------------------------------------------------------------
  /** Splits a ring that crosses the antimeridian into planar pieces, each closable as-is. */
  function planarRings(ring) {
    const pieces = [];
    let cur = [ring[0]];
    let crossings = 0;
    for (let i = 1; i < ring.length; i++) {
      const a = ring[i - 1];
      const b = ring[i];
      if (Math.abs(b[0] - a[0]) > 180) {
        const side = a[0] > 0 ? 180 : -180;
        const bLon = b[0] + (side > 0 ? 360 : -360);
        // A step along the seam itself (180 → -180) crosses at its start.
        const t = bLon === a[0] ? 0 : (side - a[0]) / (bLon - a[0]);
        const lat = a[1] + t * (b[1] - a[1]);
        cur.push([side, lat]);
        pieces.push(cur);
        cur = [[-side, lat]];
        crossings++;
      }
      cur.push(b);
    }
    pieces.push(cur);
    if (pieces.length === 1) return pieces;
    // The ring's end joins its start.
    const first = pieces.shift();
    const last = pieces.pop();
    const joined = last.concat(first.slice(1));
    pieces.push(joined);
    if (crossings % 2 === 1) {
      // A ring around a pole (Antarctica): close it along that pole's edge of the map.
      const meanLat = joined.reduce((s, p) => s + p[1], 0) / joined.length;
      const pole = meanLat < 0 ? -90 : 90;
      const endLon = joined[joined.length - 1][0];
      joined.push([endLon, pole], [-endLon, pole]);
    }
    return pieces;
  }

  function ringPath(ring) {
    let d = "";
    for (let i = 0; i < ring.length; i++) {
      const p = ring[i];
      d += (i ? "L" : "M") + p[0].toFixed(3) + "," + (-p[1]).toFixed(3);
    }
    return d + "Z";
  }

  function countryPaths(topo) {
    const fc = topojson.feature(topo, topo.objects.countries);
    const out = [];
    for (const f of fc.features) {
      const g = f.geometry;
      if (!g) continue;
      const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      let d = "";
      for (const poly of polys) for (const ring of poly) for (const piece of planarRings(ring)) d += ringPath(piece);
      if (d) out.push(d);
    }
    return out;
  }

  class GuessMap {
    constructor(el) {
      this.el = el;
      this.svg = el.querySelector("#map-svg");
      this.overlay = el.querySelector("#map-overlay");
      this.view = { west: -180, south: -90, east: 180, north: 90 };
      this.home = { ...this.view };
      this.marker = null; // {lat, lon}
      this.pairs = []; // [{guess, truth, round}]
      this.clickable = false;
      this.onMarker = () => {};
      this.drawGraticule();
      this.bindControls();
      this.apply();
      if (window.ResizeObserver) new ResizeObserver(() => this.renderOverlay()).observe(el);
    }

    drawGraticule() {
      const g = document.createElementNS(SVG_NS, "g");
      let d = "";
      for (let lon = -150; lon <= 150; lon += 30) d += `M${lon},-90V90`;
      for (let lat = -60; lat <= 60; lat += 30) if (lat !== 0) d += `M-180,${-lat}H180`;
      const lines = document.createElementNS(SVG_NS, "path");
      lines.setAttribute("class", "graticule");
      lines.setAttribute("d", d);
      const eq = document.createElementNS(SVG_NS, "path");
      eq.setAttribute("class", "graticule equator");
      eq.setAttribute("d", "M-180,0H180");
      g.append(lines, eq);
      this.graticule = g;
      this.svg.append(g);
    }

    setCountries(paths) {
      const g = document.createElementNS(SVG_NS, "g");
      for (const d of paths) {
        const p = document.createElementNS(SVG_NS, "path");
        p.setAttribute("class", "land");
        p.setAttribute("d", d);
        g.append(p);
      }
      this.svg.insertBefore(g, this.graticule.nextSibling);
    }

    /** A 2:1 view of width `w` degrees centred near (cx, cy), shifted to stay inside the world. */
    static viewAt(cx, cy, w) {
      const width = clamp(w, MAP_MIN_WIDTH_DEG, 360);
      const height = width / 2;
      const west = clamp(cx - width / 2, -180, 180 - width);
      const south = clamp(cy - height / 2, -90, 90 - height);
      return { west, south, east: west + width, north: south + height };
    }

    /** The smallest 2:1 view holding `b` (south/west/north/east), optionally with a margin. */
    static viewAround(b, margin = 0, minWidth = MAP_MIN_WIDTH_DEG) {
      const w = (b.east - b.west) * (1 + margin);
      const h = (b.north - b.south) * (1 + margin);
      return GuessMap.viewAt((b.west + b.east) / 2, (b.south + b.north) / 2, Math.max(w, 2 * h, minWidth));
    }

    setHome(bounds) {
      this.home = GuessMap.viewAround(bounds);
      this.setView(this.home);
    }

    setView(v) {
      this.view = GuessMap.viewAt((v.west + v.east) / 2, (v.south + v.north) / 2, v.east - v.west);
      this.apply();
    }

    width() {
      return this.view.east - this.view.west;
    }

    apply() {
      const v = this.view;
      const r = (x) => x.toFixed(6);
      this.svg.setAttribute("viewBox", `${v.west} ${-v.north} ${v.east - v.west} ${v.north - v.south}`);
      this.el.dataset.view = `${r(v.west)},${r(v.south)},${r(v.east)},${r(v.north)}`;
      this.renderOverlay();
    }

    /** Zooms by `factor` (>1 = in) keeping the point at fractional position (fx, fy) fixed. */
    zoomAt(factor, fx, fy) {
      const v = this.view;
      const lon = v.west + fx * (v.east - v.west);
      const lat = v.north - fy * (v.north - v.south);
      const w = clamp((v.east - v.west) / factor, MAP_MIN_WIDTH_DEG, 360);
      const h = w / 2;
      const west = lon - fx * w;
      const north = lat + fy * h;
      this.setView({ west, east: west + w, north, south: north - h });
    }

    zoomIn() {
      const c = this.marker || {
        lon: (this.view.west + this.view.east) / 2,
        lat: (this.view.south + this.view.north) / 2,
      };
      this.setView(GuessMap.viewAt(c.lon, c.lat, this.width() / MAP_BUTTON_ZOOM));
    }

    zoomOut() {
      this.zoomAt(1 / MAP_BUTTON_ZOOM, 0.5, 0.5);
    }

    toPixel(p, rect) {
      const v = this.view;
      return {
        x: ((p.lon - v.west) / (v.east - v.west)) * rect.width,
        y: ((v.north - p.lat) / (v.north - v.south)) * rect.height,
      };
    }

    setMarker(m) {
      this.marker = m;
      if (m) this.el.dataset.marker = `${m.lat.toFixed(6)},${m.lon.toFixed(6)}`;
      else delete this.el.dataset.marker;
      this.renderOverlay();
    }

    showPairs(pairs) {
      this.pairs = pairs;
      if (pairs.length) {
        const pts = pairs.flatMap((p) => [p.guess, p.truth]);
        const b = {
          west: Math.min(...pts.map((p) => p.lon)),
          east: Math.max(...pts.map((p) => p.lon)),
          south: Math.min(...pts.map((p) => p.lat)),
          north: Math.max(...pts.map((p) => p.lat)),
        };
        this.setView(GuessMap.viewAround(b, FIT_MARGIN, FIT_MIN_WIDTH_DEG));
      } else {
        this.renderOverlay();
      }
    }

    renderOverlay() {
      const rect = this.el.getBoundingClientRect();
      const o = this.overlay;
      while (o.firstChild) o.removeChild(o.firstChild);
      if (!rect.width) return;
      const add = (tag, attrs, text) => {
        const n = document.createElementNS(SVG_NS, tag);
        for (const k in attrs) n.setAttribute(k, attrs[k]);
        if (text !== undefined) n.textContent = text;
        o.append(n);
        return n;
      };
      for (const pair of this.pairs) {
        const g = this.toPixel(pair.guess, rect);
        const t = this.toPixel(pair.truth, rect);
        add("line", { class: "link", x1: g.x, y1: g.y, x2: t.x, y2: t.y });
      }
      for (const pair of this.pairs) {
        const g = this.toPixel(pair.guess, rect);
        const t = this.toPixel(pair.truth, rect);
        add("circle", { class: "guess", cx: g.x, cy: g.y, r: 7 });
        add("circle", { class: "truth", cx: t.x, cy: t.y, r: 9 });
        if (this.pairs.length > 1) add("text", { class: "round-no", x: t.x, y: t.y }, String(pair.round));
      }
      if (this.marker && !this.pairs.length) {
        const m = this.toPixel(this.marker, rect);
        add("circle", { id: "map-marker", class: "guess", cx: m.x, cy: m.y, r: 7 });
      }
    }

    bindControls() {
      const el = this.el;
      let down = null;
      el.addEventListener("pointerdown", (e) => {
        if (e.button !== 0) return;
        const rect = el.getBoundingClientRect();
        down = { id: e.pointerId, x: e.clientX, y: e.clientY, rect, view: { ...this.view }, dragging: false };
        el.setPointerCapture(e.pointerId);
      });
      el.addEventListener("pointermove", (e) => {
        if (!down || e.pointerId !== down.id) return;
        const dx = e.clientX - down.x;
        const dy = e.clientY - down.y;
        if (!down.dragging && Math.hypot(dx, dy) > CLICK_SLOP_PX) {
          down.dragging = true;
          el.classList.add("dragging");
        }
        if (!down.dragging) return;
        const v = down.view;
        const dLon = (-dx / down.rect.width) * (v.east - v.west);
        const dLat = (dy / down.rect.height) * (v.north - v.south);
        this.setView({ west: v.west + dLon, east: v.east + dLon, south: v.south + dLat, north: v.north + dLat });
      });
      const up = (e) => {
        if (!down || e.pointerId !== down.id) return;
        const d = down;
        down = null;
        el.classList.remove("dragging");
        if (d.dragging || e.type === "pointercancel" || !this.clickable) return;
        const v = this.view;
        const x = d.x - d.rect.left;
        const y = d.y - d.rect.top;
        const lon = clamp(v.west + (x / d.rect.width) * (v.east - v.west), -180, 180);
        const lat = clamp(v.north - (y / d.rect.height) * (v.north - v.south), -90, 90);
        const round6 = (n) => Math.round(n * 1e6) / 1e6;
        this.setMarker({ lat: round6(lat), lon: round6(lon) });
        this.onMarker(this.marker);
      };
      el.addEventListener("pointerup", up);
      el.addEventListener("pointercancel", up);
      el.addEventListener(
        "wheel",
        (e) => {
          e.preventDefault();
          const rect = el.getBoundingClientRect();
          const factor = Math.pow(2, -e.deltaY / MAP_WHEEL_PX_PER_DOUBLING);
          this.zoomAt(factor, (e.clientX - rect.left) / rect.width, (e.clientY - rect.top) / rect.height);
        },
        { passive: false },
      );
      $("#map-zoom-in").addEventListener("click", () => this.zoomIn());
      $("#map-zoom-out").addEventListener("click", () => this.zoomOut());
    }
  }

  // ---- Layout ---------------------------------------------------------------------------------
  /** Fits the panorama canvas (4:3) into the space left of the map panel. */
  function layout() {
    // Same rule as the panel's CSS width, max(450px, 32vw); the panel may be hidden right now.
    const panelW = Math.max(PANEL_MIN_WIDTH, PANEL_VW * window.innerWidth);
    const availW = window.innerWidth - panelW - 3 * GAP;
    const availH = window.innerHeight - HEADER_H - 2 * GAP - HELP_LINE_H;
    // 1280×720 gives exactly 800×600, with the help line below it.
    const w = Math.max(320, Math.floor(Math.min(availW, (availH * 4) / 3)));
    const h = Math.round((w * 3) / 4);
    pano.resize(w, h);
  }

  // ---- Game flow ------------------------------------------------------------------------------
  const game = { id: null, seed: null, rounds: 0, map: null, player: null, results: [], total: 0, last: null, next: null };

  function setRoundLabel(round, rounds) {
    const l = $("#round-label");
    l.dataset.round = String(round);
    l.dataset.rounds = String(rounds);
    l.textContent = `Round ${round} / ${rounds}`;
  }

  function setTotal(total) {
    const t = $("#total-label");
    t.dataset.total = String(total);
    t.textContent = `Score ${total.toLocaleString("en-US")}`;
  }

  function formatKm(km) {
    if (km < 1) return `${Math.round(km * 1000)} m`;
    if (km < 100) return `${km.toFixed(1)} km`;
    return `${Math.round(km).toLocaleString("en-US")} km`;
  }

  function placeText(r) {
    return r.place || r.country || "an unnamed place";
  }

  async function startGame(params) {
    setState("loading");
    const payload = {};
    if (params.map) payload.map = params.map;
    if (params.seed !== null && params.seed !== undefined && params.seed !== "") payload.seed = String(params.seed);
    if (params.rounds) payload.rounds = Number(params.rounds);
    if (params.player) payload.player = params.player;
    const g = await api("POST", "/api/games", payload);
    game.id = g.game_id;
    body.dataset.game = g.game_id;
    game.seed = payload.seed !== undefined ? payload.seed : String(g.seed);
    game.rounds = g.rounds;
    game.map = g.map;
    game.player = params.player || null;
    game.results = [];
    game.total = 0;
    game.next = null;
    $("#map-name").textContent = g.map.name;
    $("#synthetic-badge").hidden = !g.map.synthetic;
    $("#imagery-attribution").textContent = g.map.attribution || "";
    setTotal(0);
    await nextRound();
  }

  /** Continues a game already under way (after a reload or a browser crash) at its current round. */
  async function resumeGame(id) {
    setState("loading");
    const g = await api("GET", `/api/games/${encodeURIComponent(id)}`);
    game.id = g.game_id;
    body.dataset.game = g.game_id;
    game.seed = String(g.seed);
    game.rounds = g.rounds;
    game.map = g.map;
    game.player = g.player || null;
    game.results = g.results || [];
    game.next = null;
    game.total = g.total || 0;
    $("#map-name").textContent = g.map.name;
    $("#synthetic-badge").hidden = !g.map.synthetic;
    $("#imagery-attribution").textContent = g.map.attribution || "";
    setTotal(game.total);
    await nextRound();
  }

  /**
   * Fetches the next round and decodes its image while the result is on screen, so pressing Next
   * shows it without a network round trip or a decode. Never fails: on any error the round is
   * loaded the ordinary way when Next is pressed.
   */
  function prefetchRound() {
    return api("GET", `/api/games/${encodeURIComponent(game.id)}`)
      .then((g) => {
        if (g.state === "finished" || !g.pano) return { g, img: null };
        const img = new Image();
        img.src = g.pano;
        // An ImageBitmap uploads to the GPU in ~4 ms where a decoded <img> takes ~20-30 ms
        // (SwiftShader, 2048x1024), and that upload sits in the Next button's handler.
        return img
          .decode()
          .then(() => (window.createImageBitmap ? createImageBitmap(img).catch(() => img) : img))
          .then(
            (bitmap) => ({ g, img: bitmap }),
            () => ({ g, img: null }),
          );
      })
      .catch(() => null);
  }

  async function nextRound() {
    const pending = game.next;
    game.next = null;
    const pre = pending ? await pending : null;
    const g = pre ? pre.g : await api("GET", `/api/games/${encodeURIComponent(game.id)}`);
    if (g.state === "finished" || !g.pano) return finish();
    setRoundLabel(g.round, g.rounds);
    guessMap.showPairs([]);
    guessMap.setMarker(null);
    guessMap.setHome(game.map.view);
    guessMap.clickable = true;
    $("#guess-button").disabled = true;
    // Start loading first: data-ready is "false" before the state says "guessing".
    const loaded = pano.load(g.pano, g.imagery, pre && pre.img);
    setState("guessing");
    await loaded;
  }

  async function submitGuess() {
    const m = guessMap.marker;
    if (!m || body.dataset.state !== "guessing") return;
    const button = $("#guess-button");
    button.disabled = true;
    let r;
    try {
      r = await api("POST", `/api/games/${encodeURIComponent(game.id)}/guess`, { lat: m.lat, lon: m.lon });
    } catch (e) {
      button.disabled = false;
      throw e;
    }
    guessMap.clickable = false;
    game.results.push(r);
    game.total = r.total;
    game.last = r;
    setTotal(r.total);
    const res = $("#result");
    const ds = res.dataset;
    ds.round = String(r.round);
    ds.points = String(r.points);
    ds.distanceKm = r.distance_km.toFixed(3);
    ds.truthLat = r.truth.lat.toFixed(6);
    ds.truthLon = r.truth.lon.toFixed(6);
    ds.guessLat = r.guess.lat.toFixed(6);
    ds.guessLon = r.guess.lon.toFixed(6);
    ds.total = String(r.total);
    $("#result-score").textContent = `${r.points.toLocaleString("en-US")} points`;
    $("#result-distance").textContent = `Your guess was ${formatKm(r.distance_km)} away.`;
    $("#result-place").textContent = `It was ${placeText(r)}.`;
    $("#next-button").textContent = r.finished ? "See final score" : "Next round";
    setState("result");
    guessMap.showPairs([{ guess: r.guess, truth: r.truth, round: r.round }]);
    if (!r.finished) game.next = prefetchRound();
  }

  function finish() {
    const s = $("#summary");
    s.dataset.total = String(game.total);
    $("#summary-total").textContent = `Total: ${game.total.toLocaleString("en-US")} of ${(game.rounds * 5000).toLocaleString("en-US")} points`;
    const tbody = s.querySelector("tbody");
    tbody.textContent = "";
    for (const r of game.results) {
      const tr = document.createElement("tr");
      for (const text of [String(r.round), placeText(r), formatKm(r.distance_km), r.points.toLocaleString("en-US")]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      tbody.append(tr);
    }
    const q = new URLSearchParams({ seed: game.seed, rounds: String(game.rounds), map: game.map.id });
    $("#challenge-link").href = `/?${q}`;
    $("#play-again").href = game.player ? `/?${new URLSearchParams({ player: game.player })}` : "/";
    guessMap.clickable = false;
    setRoundLabel(game.rounds, game.rounds);
    setState("finished");
    guessMap.showPairs(game.results.map((r) => ({ guess: r.guess, truth: r.truth, round: r.round })));
  }

  async function showStart(params) {
    $("#player-input").value = params.player || "";
    if (params.seed) $("#seed-input").value = params.seed;
    if (params.rounds) $("#rounds-input").value = params.rounds;
    const select = $("#map-select");
    const { maps } = await api("GET", "/api/maps");
    select.textContent = "";
    for (const m of maps) {
      const o = document.createElement("option");
      o.value = m.id;
      o.textContent = m.synthetic ? `${m.name} (synthetic imagery)` : m.name;
      select.append(o);
    }
    if (params.map) select.value = params.map;
    setState("start");
    $("#player-input").focus();
  }

  // A failure anywhere in the flow ends in the error state with the server's message.
  const guarded = (fn) => (...args) => Promise.resolve().then(() => fn(...args)).catch((e) => showError(e.message || String(e)));

  let pano;
  let guessMap;

  async function main() {
    pano = new PanoViewer($("#pano"));
    guessMap = new GuessMap($("#map"));
    guessMap.onMarker = () => {
      $("#guess-button").disabled = body.dataset.state !== "guessing";
    };
    layout();
    window.addEventListener("resize", layout);

    $("#guess-button").addEventListener("click", guarded(submitGuess));
    $("#next-button").addEventListener("click", guarded(nextRound));
    // GeoGuessr's keys: Space (or Enter) guesses once a marker is placed and moves on from the
    // result. A focused control handles the key itself (its own click), so it is left alone.
    document.addEventListener("keydown", (e) => {
      if (e.key !== " " && e.key !== "Enter") return;
      if (e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target;
      if (t && /^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(t.tagName)) return;
      const state = body.dataset.state;
      if (state === "guessing" && !$("#guess-button").disabled) guarded(submitGuess)();
      else if (state === "result") guarded(nextRound)();
      else return;
      e.preventDefault();
    });
    $("#start-form").addEventListener(
      "submit",
      guarded((e) => {
        e.preventDefault();
        const seed = $("#seed-input").value.trim();
        if (seed && !/^\d+$/.test(seed)) throw new Error("the seed must be a whole number (digits only)");
        return startGame({
          map: $("#map-select").value || null,
          seed: seed || null,
          rounds: $("#rounds-input").value || null,
          player: $("#player-input").value.trim() || null,
        });
      }),
    );

    const topo = await fetch("/assets/vendor/countries-110m.json").then((r) => {
      if (!r.ok) throw new Error("cannot load the world map outlines");
      return r.json();
    });
    guessMap.setCountries(countryPaths(topo));

    const q = new URLSearchParams(location.search);
    const params = { seed: q.get("seed"), rounds: q.get("rounds"), map: q.get("map"), player: q.get("player") };
    const resume = q.get("game");
    // `join` is the link for people: the start screen, prefilled with the challenge, asks for a
    // name so their rounds count as human results. Without it a seed starts at once (the agent).
    const join = q.get("join") !== null;
    if (resume !== null) await resumeGame(resume);
    else if (params.seed !== null && !join) await startGame(params);
    else await showStart(params);
  }

  guarded(main)();
})();
