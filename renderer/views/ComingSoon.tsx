export function ComingSoon({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <section className="view" aria-labelledby={`${title}-title`}>
      <header className="view-head">
        <h1 id={`${title}-title`}>{title}</h1>
      </header>
      <div className="coming">{children}</div>
    </section>
  );
}
