/**
 * The sign-in page's script: posts the pasted credential as JSON to /ui/session (which checks it with the
 * /v1 guard and sets the session cookie) and opens the dashboard; a refusal is shown under the form.
 */

async function signIn(form: HTMLFormElement, input: HTMLInputElement, error: HTMLElement): Promise<void> {
  error.hidden = true;
  const button = form.querySelector('button');
  if (button) button.disabled = true;
  try {
    const res = await fetch('/ui/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: input.value }),
    });
    if (res.ok) {
      await res.text(); // read to the end before leaving, so the answer is not cut off
      location.assign('/ui/');
      return;
    }
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    error.textContent = `Not accepted (${res.status}): ${body.error?.message ?? res.statusText}`;
  } catch {
    error.textContent = 'The hub did not answer; is it running?';
  } finally {
    if (button) button.disabled = false;
  }
  error.hidden = false;
  input.select();
}

const form = document.getElementById('signin');
const input = document.getElementById('token');
const error = document.getElementById('signin-error');
if (form instanceof HTMLFormElement && input instanceof HTMLInputElement && error) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn(form, input, error);
  });
}
