// Start a carpool: any signed-in person may, and becomes its owner; next, bind its account.
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useLocation } from 'wouter';
import { api, must } from '../api/client';
import { Card, ErrorMessage, Field } from '../components/ui';
import { useI18n } from '../i18n';

export default function NewGroupPage() {
  const { t } = useI18n();
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [maxMembers, setMaxMembers] = useState('10');
  const [error, setError] = useState<unknown>(null);
  return (
    <>
      <h1>{t('newGroup.title')}</h1>
      <Card>
        <p>{t('newGroup.intro')}</p>
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            setError(null);
            try {
              const group = await must(
                api.POST('/groups', { body: { name, kind: 'carpool', maxMembers: Number(maxMembers) } }),
              );
              await queryClient.invalidateQueries();
              navigate(`/groups/${group.id}/account`);
            } catch (err) {
              setError(err);
            }
          }}
        >
          <Field label={t('newGroup.name')} name="name" value={name} onChange={setName} required />
          <Field
            label={t('newGroup.maxMembers')}
            name="maxMembers"
            inputMode="numeric"
            value={maxMembers}
            onChange={setMaxMembers}
            required
          />
          <ErrorMessage
            error={error}
            fields={{ name: t('newGroup.name'), maxMembers: t('newGroup.maxMembers') }}
          />
          <div>
            <button type="submit">{t('newGroup.submit')}</button>
          </div>
        </form>
      </Card>
    </>
  );
}
