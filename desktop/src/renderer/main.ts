// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

/**
 * @module
 * The renderer's entry: mounts the console. The same build runs as the
 * PCE's web console (same-origin API) and in the desktop app (the preload's
 * bridge), and works offline on a snapshot in both.
 */
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

mount(App, { target: document.getElementById('app')! });
