// Text imports (`./file.yaml?raw`): resolved by vite in tests and by the esbuild plugin in scripts/build.mjs.
declare module '*?raw' {
  const text: string;
  export default text;
}
