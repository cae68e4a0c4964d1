import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { currentWindowName } from './windowLabel';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App name={currentWindowName()} />
  </StrictMode>,
);
