// Data files imported `with { type: "file" }`: the import is the file's path, inside dist/whokilled an embedded one.
declare module "*.log" {
  const path: string;
  export default path;
}
declare module "*.minimal" {
  const path: string;
  export default path;
}
