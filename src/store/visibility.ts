/** Which workflows a user may see, as SQL shared by the store's lists and the access checks. */

/** The condition (on `workflows` aliased w; bind the user name twice): owned, or shared through an access group. */
export const VISIBLE_TO_SQL =
  '(w.user = ? OR w.id IN (SELECT wg.workflow_id FROM workflow_access_groups wg JOIN user_group_memberships m ON m.group_id = wg.group_id WHERE m.user_name = ?))';
