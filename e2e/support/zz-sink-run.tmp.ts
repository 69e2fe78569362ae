import { startSmtpSink } from './smtp-sink';
(async () => {
  const sink = await startSmtpSink({ port: 2525 });
  console.log('sink on', sink.port);
  setInterval(() => { for (const m of sink.messages.splice(0)) console.log('MAIL', m.from, JSON.stringify(m.to), m.authUser, m.subject, (m.html ?? '').length); }, 500);
})();
