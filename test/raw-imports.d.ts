// `import text from './file?raw'`: the file's text, as Vite (and so the test pool) loads it.
declare module '*?raw' {
  const text: string;
  export default text;
}
