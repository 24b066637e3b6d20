/**
 * Supply chain and stock workflows through the real PostgREST, logged in as demo staff:
 * the pharmacist (inventory.manage) raises a purchase order, the NY admin (inventory.approve, a
 * different user) approves it, the pharmacist sends it and receives the goods (a new batch with
 * its stock); a doctor gets 403, another hospital's supplier 404, bad input a stable 4xx code.
 * Then a stock adjustment requested by the pharmacist and approved by the admin.
 *
 * These tests commit to the shared test database: they create their own supplier and medicine
 * (unique codes) and never count demo rows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, loginToken, rpc } from '../../support/api.ts';

const LA_SUPPLIER = 'd4000000-0000-4000-8000-000000000002';
const suffix = Date.now().toString(36).toUpperCase().slice(-6);

async function insertRow(table: string, row: Record<string, unknown>, token: string) {
  const response = await apiFetch(`/${table}`, {
    method: 'POST',
    token,
    headers: { 'Content-Type': 'application/json', Prefer: 'return=representation' },
    body: JSON.stringify(row),
  });
  const body = await response.json();
  if (response.status !== 201) throw new Error(`insert into ${table}: ${response.status} ${JSON.stringify(body)}`);
  return body[0];
}

async function select(path: string, token: string) {
  const response = await apiFetch(path, { token });
  expect(response.status).toBe(200);
  return response.json();
}

describe('supply chain through PostgREST', () => {
  let pharmacist: string;
  let admin: string;
  let doctor: string;
  let supplierId: string;
  let medicineId: string;
  let poId: string;
  let lineId: string;
  let batchId: string;

  beforeAll(async () => {
    pharmacist = await loginToken('pharmacist.ny@hms.test');
    admin = await loginToken('admin.ny@hms.test');
    doctor = await loginToken('doctor.ny@hms.test');
    supplierId = (await insertRow('suppliers', {
      code: `API-SUP-${suffix}`, name: `API Test Supplier ${suffix}`, drug_licence_number: 'API-LIC-1',
    }, pharmacist)).id;
    medicineId = (await insertRow('medicines', {
      item_code: `API-MED-${suffix}`, generic_name: `Apitestamol ${suffix}`, dosage_form: 'tablet', base_unit: 'tablet',
    }, pharmacist)).id;
  });

  it('the pharmacist raises a purchase order; the database computes the totals', async () => {
    const { status, body } = await rpc('create_purchase_order', {
      supplier_id: supplierId,
      items: [{ medicine_id: medicineId, quantity_ordered: 100, unit_cost: 2.5, discount_percent: 10, tax_percent: 5 }],
      notes: 'API test order',
    }, pharmacist);
    expect(status).toBe(200);
    expect(body.status).toBe('draft');
    expect(body.po_number).toMatch(/^PO-/);
    expect(Number(body.total_amount)).toBeCloseTo(236.25, 2);
    poId = body.id;
    const lines = await select(`/purchase_order_items?purchase_order_id=eq.${poId}&select=id,line_total`, pharmacist);
    expect(lines).toHaveLength(1);
    expect(Number(lines[0].line_total)).toBeCloseTo(236.25, 2);
    lineId = lines[0].id;
  });

  it('a doctor may not raise a purchase order (403)', async () => {
    const { status, body } = await rpc('create_purchase_order', {
      supplier_id: supplierId, items: [{ medicine_id: medicineId, quantity_ordered: 1, unit_cost: 1 }],
    }, doctor);
    expect(status).toBe(403);
    expect(body.code).toBe('HMS_FORBIDDEN');
  });

  it('another hospital\'s supplier is not found (404)', async () => {
    const { status, body } = await rpc('create_purchase_order', {
      supplier_id: LA_SUPPLIER, items: [{ medicine_id: medicineId, quantity_ordered: 1, unit_cost: 1 }],
    }, pharmacist);
    expect(status).toBe(404);
    expect(body.code).toBe('HMS_NOT_FOUND');
  });

  it('bad input gets a stable 422 code, never a 500', async () => {
    const zero = await rpc('create_purchase_order', {
      supplier_id: supplierId, items: [{ medicine_id: medicineId, quantity_ordered: 0, unit_cost: 1 }],
    }, pharmacist);
    expect(zero.status).toBe(422);
    expect(zero.body.code).toBe('HMS_INVALID_QUANTITY');
    const malformed = await rpc('create_purchase_order', {
      supplier_id: supplierId, items: [{ medicine_id: 'nope', quantity_ordered: 1, unit_cost: 1 }],
    }, pharmacist);
    expect(malformed.status).toBe(422);
    expect(malformed.body.code).toBe('HMS_INVALID_INPUT');
  });

  it('the pharmacist may not approve; the admin (another user) does', async () => {
    const denied = await rpc('approve_purchase_order', { po_id: poId }, pharmacist);
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('HMS_FORBIDDEN');
    const approved = await rpc('approve_purchase_order', { po_id: poId }, admin);
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');
    const again = await rpc('approve_purchase_order', { po_id: poId }, admin);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('HMS_ILLEGAL_TRANSITION');
  });

  it('whoever raised an order may not approve it (409)', async () => {
    const created = await rpc('create_purchase_order', {
      supplier_id: supplierId, items: [{ medicine_id: medicineId, quantity_ordered: 5, unit_cost: 1 }],
    }, admin);
    expect(created.status).toBe(200);
    const own = await rpc('approve_purchase_order', { po_id: created.body.id }, admin);
    expect(own.status).toBe(409);
    expect(own.body.code).toBe('HMS_APPROVAL_BY_OTHER_USER');
    const cancelled = await rpc('cancel_purchase_order', { po_id: created.body.id, reason: 'API test clean-up' }, pharmacist);
    expect(cancelled.body.status).toBe('cancelled');
  });

  it('a PATCH of the status is refused: the workflow goes through the RPCs', async () => {
    const patch = (status: string) => apiFetch(`/purchase_orders?id=eq.${poId}`, {
      method: 'PATCH', token: pharmacist, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ status }),
    });
    const back = await patch('draft');
    expect(back.status).toBe(409);
    expect((await back.json()).code).toBe('HMS_ILLEGAL_TRANSITION');
    const forward = await patch('sent');
    expect(forward.status).toBe(409);
    const refusal = await forward.json();
    expect(refusal.code).toBe('HMS_WORKFLOW_REQUIRED');
    expect(JSON.parse(refusal.details).use).toBe('send_purchase_order');
  });

  it('the pharmacist sends the order and receives the goods into a new batch', async () => {
    const sent = await rpc('send_purchase_order', { po_id: poId }, pharmacist);
    expect(sent.body.status).toBe('sent');
    const expiry = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);

    const tooMany = await rpc('receive_goods', {
      purchase_order_id: poId,
      items: [{ purchase_order_item_id: lineId, batch_number: `API-B-${suffix}`, expiry_date: expiry, quantity_received: 101 }],
    }, pharmacist);
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.code).toBe('HMS_QUANTITY_EXCEEDS_OUTSTANDING');

    const received = await rpc('receive_goods', {
      purchase_order_id: poId,
      supplier_invoice_number: `API-INV-${suffix}`,
      items: [{ purchase_order_item_id: lineId, batch_number: `API-B-${suffix}`, expiry_date: expiry,
                quantity_received: 60, free_quantity: 6, mrp: 5, selling_price: 4 }],
    }, pharmacist);
    expect(received.status).toBe(200);
    expect(received.body.status).toBe('posted');
    expect(received.body.grn_number).toMatch(/^GRN-/);
    const [order] = await select(`/purchase_orders?id=eq.${poId}&select=status`, pharmacist);
    expect(order.status).toBe('partially_received');
    const grnLines = await select(`/grn_items?grn_id=eq.${received.body.id}&select=quantity_accepted,batch_id`, pharmacist);
    expect(grnLines).toHaveLength(1);
    expect(grnLines[0].quantity_accepted).toBe(66);
    batchId = grnLines[0].batch_id;

    const [batch] = await select(`/medicine_batches?id=eq.${batchId}&select=batch_number,quantity_on_hand,quantity_received`, pharmacist);
    expect(batch).toEqual({ batch_number: `API-B-${suffix}`, quantity_on_hand: 66, quantity_received: 66 });
    const movements = await select(`/stock_movements?batch_id=eq.${batchId}&select=movement_type,quantity,balance_after`, pharmacist);
    expect(movements).toEqual([{ movement_type: 'goods_receipt', quantity: 66, balance_after: 66 }]);

    const duplicate = await rpc('receive_goods', {
      purchase_order_id: poId,
      supplier_invoice_number: `API-INV-${suffix}`,
      items: [{ purchase_order_item_id: lineId, batch_number: `API-B-${suffix}`, expiry_date: expiry, quantity_received: 1 }],
    }, pharmacist);
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.code).toBe('HMS_DUPLICATE_SUPPLIER_INVOICE');
  });

  it('a doctor may not receive goods (403)', async () => {
    const { status, body } = await rpc('receive_goods', { purchase_order_id: poId, items: [] }, doctor);
    expect(status).toBe(403);
    expect(body.code).toBe('HMS_FORBIDDEN');
  });

  it('a stock adjustment is requested by the pharmacist and approved by the admin', async () => {
    const requested = await rpc('request_stock_adjustment', {
      batch_id: batchId, quantity_change: -6, reason: 'damage', reason_notes: 'Crushed in transit',
    }, pharmacist);
    expect(requested.status).toBe(200);
    expect(requested.body.status).toBe('pending_approval');
    const wrongSign = await rpc('request_stock_adjustment', { batch_id: batchId, quantity_change: 6, reason: 'damage' }, pharmacist);
    expect(wrongSign.status).toBe(422);
    expect(wrongSign.body.code).toBe('HMS_ADJUSTMENT_SIGN_MISMATCH');
    const approved = await rpc('approve_stock_adjustment', { adjustment_id: requested.body.id }, admin);
    expect(approved.status).toBe(200);
    expect(approved.body.status).toBe('approved');
    const adjusted = await select(`/stock_movements?adjustment_id=eq.${requested.body.id}&select=movement_type,quantity,balance_after`, pharmacist);
    expect(adjusted).toEqual([{ movement_type: 'adjustment_decrease', quantity: -6, balance_after: 60 }]);
    const tooMuch = await rpc('request_stock_adjustment', { batch_id: batchId, quantity_change: -61, reason: 'theft_loss' }, pharmacist);
    const refused = await rpc('approve_stock_adjustment', { adjustment_id: tooMuch.body.id }, admin);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('HMS_INSUFFICIENT_STOCK');
    const rejected = await rpc('reject_stock_adjustment', { adjustment_id: tooMuch.body.id, reason: 'Recount first' }, admin);
    expect(rejected.body.status).toBe('rejected');
  });
});
