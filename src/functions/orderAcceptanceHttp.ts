import * as df from 'durable-functions';
import { acceptanceStatusRoute, approvalRoute } from '../http/routes';
import { acceptanceStatus, approval } from '../acceptance/status';
import { httpFunction } from './shared/httpFunction';

httpFunction(acceptanceStatusRoute, acceptanceStatus, [df.input.durableClient()]);
httpFunction(approvalRoute, approval, [df.input.durableClient()]);
