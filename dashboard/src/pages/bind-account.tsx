// Placeholder: filled in the next commits.
export default function Page() {
  return <h1>bind-account</h1>;
}
