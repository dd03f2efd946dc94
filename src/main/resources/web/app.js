// Chat page: keeps the conversation, streams each reply from /v1/chat/completions (SSE over fetch) as it comes.
const $ = id => document.getElementById(id);
const messages = [];
$('key').value = localStorage.getItem('herd-key') || '';
$('key').onchange = () => { localStorage.setItem('herd-key', $('key').value); showModel(); };

function headers() {
  const h = {'Content-Type': 'application/json'};
  if ($('key').value) h.Authorization = 'Bearer ' + $('key').value;
  return h;
}

function bubble(role, text) {
  const div = document.createElement('div');
  div.className = 'msg ' + role;
  div.textContent = text;
  $('log').appendChild(div);
  div.scrollIntoView();
  return div;
}

function showModel() {
  fetch('/v1/models', {headers: headers()}).then(r => r.json()).then(j => { $('model').textContent = j.data?.[0]?.id || ''; }).catch(() => {});
}
showModel();

$('clear').onclick = () => { messages.length = 0; $('log').textContent = ''; $('stats').textContent = ''; };
$('input').onkeydown = e => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('form').requestSubmit(); } };

$('form').onsubmit = async e => {
  e.preventDefault();
  const text = $('input').value.trim();
  if (!text) return;
  $('input').value = '';
  $('send').disabled = true;
  messages.push({role: 'user', content: text});
  bubble('user', text);
  const out = bubble('assistant', '');
  let reply = '', tokens = 0, first = 0;
  try {
    const res = await fetch('/v1/chat/completions', {method: 'POST', headers: headers(), body: JSON.stringify({
      messages, stream: true, stream_options: {include_usage: true}, temperature: Number($('temperature').value), max_tokens: Number($('max').value)})});
    if (!res.ok) throw new Error((await res.json()).error?.message || res.statusText);
    const reader = res.body.getReader(), decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      const events = buffer.split('\n\n');
      buffer = events.pop();
      for (const event of events) {
        const data = event.replace(/^data: /, '');
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        const piece = chunk.choices?.[0]?.delta?.content;
        if (piece) {
          reply += piece;
          out.textContent = reply;
          out.scrollIntoView();
          tokens++;
          first = first || performance.now();
          const secs = (performance.now() - first) / 1000;
          $('stats').textContent = `${tokens} tokens, ${(secs > 0 ? (tokens - 1) / secs : 0).toFixed(1)} tok/s`;
        }
        const t = chunk.timings;
        if (t) $('stats').textContent = `${t.predicted_n} tokens, ${t.predicted_per_second.toFixed(1)} tok/s; ` +
          `prompt ${t.prompt_n} new + ${t.cached_n} reused tokens, ${t.prompt_per_second.toFixed(1)} tok/s`;
      }
    }
    messages.push({role: 'assistant', content: reply});
  } catch (err) {
    out.className = 'msg error';
    out.textContent = (reply ? reply + '\n' : '') + 'Error: ' + err.message;
    messages.pop();
  } finally {
    $('send').disabled = false;
    $('input').focus();
  }
};
