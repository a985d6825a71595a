import { LocalBus } from '../../src/bus/local.js';
import { busConformance } from './bus.js';

busConformance('LocalBus', {
  async open() {
    const bus = new LocalBus();
    return { bus, close: () => bus.close() };
  },
});
