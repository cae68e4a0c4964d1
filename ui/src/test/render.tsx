import { expect } from 'vitest';
import { StyleProvider } from '@ant-design/cssinjs';
import { render, screen, waitFor, within } from '@testing-library/react';
import type { ReactNode } from 'react';
import type { WindowName } from '../api';
import { App } from '../App';
import { user } from './user';

// antd injects its CSS-in-JS into the document as it renders, and jsdom re-parses every rule whenever anything
// asks for a computed style: with that, one test took seconds. Server mode keeps styles out of the DOM; the tests
// check content and behaviour, never looks.
function NoStyles({ children }: { children: ReactNode }) {
  return <StyleProvider mock="server">{children}</StyleProvider>;
}

export function renderWindow(name: WindowName) {
  return render(<App name={name} />, { wrapper: NoStyles });
}

/** Types into the field with this test id, once it is there. */
export async function typeInto(testId: string, text: string) {
  await user.type(await screen.findByTestId(testId), text);
}

/** Opens an admin tab; the backend must report a live session. */
export async function openAdminTab(tab: string) {
  await user.click(await screen.findByTestId(`admin-tab-${tab}`));
}

/** The options an open antd Select has rendered (antd renders them in a portal, opened on mouse down). */
export const openOptions = () => [...document.querySelectorAll('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option')];

/** Picks an option of the antd Select with this test id, once it is rendered. */
export async function pickOption(testId: string, label: string) {
  await user.click(within(screen.getByTestId(testId)).getByRole('combobox'));
  await user.click(await findOpenOption(label));
}

/** Waits for an open Select to render the option with this label. */
export function findOpenOption(label: string) {
  return waitFor(() => {
    const found = openOptions().find((option) => option.getAttribute('title') === label);
    if (!found) throw new Error(`no open option "${label}"`);
    return found;
  });
}

/** Waits for the form field with this test id to show a validation message. */
export async function expectFieldError(testId: string, message: string | RegExp) {
  await waitFor(() => expect(screen.getByTestId(testId).closest('.ant-form-item')).toHaveTextContent(message));
}
