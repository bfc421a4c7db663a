/** One colour per stage, used by every place that shows the stage (layers, lanes, cards, timeline). */
const PALETTE = [
  '#4f7cff',
  '#f08c2e',
  '#2fa86b',
  '#c9489b',
  '#8a63d2',
  '#d4a514',
  '#1ea3b8',
  '#e0533d',
];

export const stageColor = (k: number) => PALETTE[k % PALETTE.length]!;
