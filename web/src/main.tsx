import { render } from 'preact';
import '@picocss/pico/css/pico.fluid.classless.min.css';
import './styles.css';
import { App } from './app';

render(<App />, document.getElementById('app')!);
