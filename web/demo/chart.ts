// A small line chart on a 2D canvas: several named series over a shared x axis, auto-scaled y, a legend.
// Enough for live loss curves and per-epoch metrics without a charting dependency.

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: { x: number; y: number }[];
}

export class LineChart {
  readonly series: Series[];
  private pending = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly title: string,
    defs: readonly { name: string; color: string }[],
    private readonly xLabel: string,
  ) {
    this.series = defs.map((d) => ({ ...d, points: [] }));
    this.draw();
  }

  add(name: string, x: number, y: number): void {
    const s = this.series.find((v) => v.name === name);
    if (!s) throw new Error(`chart '${this.title}': no series '${name}'`);
    if (Number.isFinite(y)) s.points.push({ x, y });
    // many points may arrive between two frames: draw once per frame
    if (!this.pending) {
      this.pending = true;
      requestAnimationFrame(() => {
        this.pending = false;
        this.draw();
      });
    }
  }

  clear(): void {
    for (const s of this.series) s.points.length = 0;
    this.draw();
  }

  draw(): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const { width: W, height: H } = this.canvas;
    const pad = { l: 44, r: 10, t: 22, b: 26 };
    ctx.fillStyle = '#1d1f23';
    ctx.fillRect(0, 0, W, H);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#ccc';
    ctx.fillText(this.title, pad.l, 14);
    const all = this.series.flatMap((s) => s.points);
    if (all.length === 0) {
      ctx.fillStyle = '#777';
      ctx.fillText('waiting for data', W / 2 - 40, H / 2);
      return;
    }
    let [x0, x1] = [Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x))];
    let [y0, y1] = [Math.min(0, ...all.map((p) => p.y)), Math.max(...all.map((p) => p.y))];
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) y1 = y0 + 1;
    y1 += (y1 - y0) * 0.05;
    const px = (x: number): number => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
    const py = (y: number): number => H - pad.b - ((y - y0) / (y1 - y0)) * (H - pad.t - pad.b);
    ctx.strokeStyle = '#444';
    ctx.lineWidth = 1;
    ctx.fillStyle = '#999';
    for (let i = 0; i <= 4; i++) {
      const y = y0 + ((y1 - y0) * i) / 4;
      ctx.beginPath();
      ctx.moveTo(pad.l, py(y));
      ctx.lineTo(W - pad.r, py(y));
      ctx.stroke();
      ctx.fillText(y.toPrecision(3), 2, py(y) + 4);
    }
    ctx.fillText(`${this.xLabel} ${x0}…${x1}`, pad.l, H - 8);
    let lx = W - pad.r;
    for (const s of [...this.series].reverse()) {
      lx -= ctx.measureText(s.name).width + 22;
      ctx.fillStyle = s.color;
      ctx.fillRect(lx, 6, 10, 10);
      ctx.fillStyle = '#ccc';
      ctx.fillText(s.name, lx + 13, 15);
      if (s.points.length === 0) continue;
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      s.points.forEach((p, i) => (i === 0 ? ctx.moveTo(px(p.x), py(p.y)) : ctx.lineTo(px(p.x), py(p.y))));
      ctx.stroke();
      if (s.points.length === 1) ctx.fillRect(px(s.points[0].x) - 2, py(s.points[0].y) - 2, 4, 4);
    }
  }
}
